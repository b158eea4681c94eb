# String concatenation, f-strings (with format specs / conversions), % and str.format.
dataset_type = 'CocoDataset'
data_root = 'data/' + 'coco/'
gamma = 2.0
alpha = 0.25
ann_file = data_root + 'annotations/instances_train2017.json'
exp_name = f'retina_focal_g{gamma}_a{alpha:.2f}'
tag = f'{dataset_type!r}-{len(data_root)}'
work_dir = './work_dirs/%s_%d' % (exp_name, 12)
pct = 'weight=%.3f' % alpha
log_name = '{}/{}_{:03d}'.format(data_root, 'ep', 7)
named = '{root}{split}'.format(root=data_root, split='val2017/')
joined = '/'.join(['a', 'b', 'c'])
upper = dataset_type.upper()
replaced = ann_file.replace('train', 'val')
loss_cls = dict(type='Focal' + 'Loss', gamma=gamma, alpha=alpha)

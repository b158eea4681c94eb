# Key order after merging: base keys keep their position, new keys are
# appended, the child's own ordering does not move existing keys.
_base_ = './_base_/a.py'
zz_first_in_child = 1
model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss'), loss_cls=dict(alpha=0.25)),
             data_preprocessor=dict(type='DetDataPreprocessor'), type='FCOS')
train_cfg = dict(val_interval=1)

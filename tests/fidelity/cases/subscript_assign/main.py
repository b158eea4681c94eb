# a['k'] = v on child dicts, nested subscripts, list element assignment.
model = dict(
    bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)),
    heads=[dict(loss_weight=1.0), dict(loss_weight=1.0)])
model['bbox_head']['loss_cls']['gamma'] = 3.0
model['bbox_head']['loss_cls']['alpha'] = 0.5
model['heads'][1]['loss_weight'] = 0.5
model['heads'][-1]['type'] = 'L1Loss'
strides = [8, 16, 32]
strides[0] = 4

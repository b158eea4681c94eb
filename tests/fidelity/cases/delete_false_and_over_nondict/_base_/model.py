model = dict(
    type='FCOS',
    bbox_head=dict(
        type='FCOSHead',
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0),
        loss_centerness=None,
        strides=[8, 16, 32]))

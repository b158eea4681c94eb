model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)))

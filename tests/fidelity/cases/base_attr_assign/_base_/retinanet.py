model = dict(
    type='RetinaNet',
    backbone=dict(type='ResNet', depth=50, frozen_stages=1),
    bbox_head=dict(
        type='RetinaHead',
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                      alpha=0.25, loss_weight=1.0)))

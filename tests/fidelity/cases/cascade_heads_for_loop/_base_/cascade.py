model = dict(
    type='CascadeRCNN',
    roi_head=dict(
        type='CascadeRoIHead',
        bbox_head=[
            dict(type='Shared2FCBBoxHead', num_classes=80,
                 loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            dict(type='Shared2FCBBoxHead', num_classes=80,
                 loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        ]))

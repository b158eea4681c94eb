num_classes = 80
model = dict(
    type='RetinaNet',
    bbox_head=dict(type='RetinaHead', num_classes=num_classes,
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True,
                                 gamma=2.0, alpha=0.25, loss_weight=1.0)))

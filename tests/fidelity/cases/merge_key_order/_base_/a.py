model = dict(type='RetinaNet', neck=dict(type='FPN'),
             bbox_head=dict(type='RetinaHead', loss_cls=dict(type='FocalLoss', gamma=2.0)))
train_cfg = dict(max_epochs=12)

# Losses held in a top-level `detector` dict (not under `model`), as in
# some mmdet/mmrotate-style configs.
num_classes = 15
detector = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        num_classes=num_classes,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                      alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)))
model = dict(type='SemiBaseDetector', detector=detector)

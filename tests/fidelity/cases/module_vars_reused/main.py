# Module-level variables are reused in several places, and every global
# (not starting with '__') also becomes a top-level config key.
num_classes = 20
loss_weight = 0.5
focal = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
             loss_weight=loss_weight)
l1 = dict(type='L1Loss', loss_weight=loss_weight * 2)
model = dict(
    type='FCOS',
    bbox_head=dict(type='FCOSHead', num_classes=num_classes,
                   loss_cls=focal, loss_bbox=l1),
    aux_head=dict(type='FCOSHead', num_classes=num_classes,
                  loss_cls=focal))

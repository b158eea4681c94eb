from mmdet.models.losses import FocalLoss
loss_cls = dict(type=FocalLoss, gamma=2.0)

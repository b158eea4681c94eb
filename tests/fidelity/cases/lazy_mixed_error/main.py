from mmdet.models.losses import FocalLoss
_base_ = ['./base.py']
loss = dict(type=FocalLoss)

from mmengine.config import read_base
from mmdet.models.losses import FocalLoss

with read_base():
    from .base import *

model.merge(dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(_delete_=True, type=FocalLoss, gamma=2.0)))))

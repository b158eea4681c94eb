import torch.nn
import mmdet.models as M
from torch.optim import SGD
from mmdet.models.losses import GIoULoss as G

model = dict(
    type=M.RetinaNet,
    act=torch.nn.ReLU,
    head=dict(loss_bbox=dict(type=G, loss_weight=2.0), loss_cls=dict(type=M.losses.FocalLoss)))
optim_wrapper = dict(optimizer=dict(type=SGD, lr=0.01))

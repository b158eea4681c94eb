from mmengine.config import read_base

with read_base():
    from .base import model, optim_wrapper as ow

model.roi_head.bbox_head.loss_cls.loss_weight = 2.0
ow.optimizer.lr = 0.01

from mmengine.config import read_base
with read_base():
    from ._base_.b import *
model.head.loss_cls.alpha = 0.5

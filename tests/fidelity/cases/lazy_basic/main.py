from mmengine.config import read_base

with read_base():
    from ._base_.models.retina import *

model.bbox_head.loss_cls.gamma = 1.5
optim_wrapper.merge(dict(optimizer=dict(lr=0.02)))
max_epochs = 12

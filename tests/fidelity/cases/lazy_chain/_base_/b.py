from mmengine.config import read_base
with read_base():
    from .a import *
loss_cls.gamma = 1.0
model = dict(head=dict(loss_cls=loss_cls))

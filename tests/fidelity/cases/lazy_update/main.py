from mmengine.config import read_base

with read_base():
    from .base import *

model.update(dict(roi_head=dict(bbox_head=dict(loss_cls=dict(loss_weight=0.5, _delete_=True)))))
model.roi_head.update(extra=dict(x=1))
del unused

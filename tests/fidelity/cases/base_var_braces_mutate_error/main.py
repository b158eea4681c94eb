# {{_base_.x}} values cannot be mutated in the child (they are strings at eval time).
_base_ = './_base_/retinanet.py'
loss_cls = {{_base_.focal}}
loss_cls['gamma'] = 0.5

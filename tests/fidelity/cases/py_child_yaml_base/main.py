# Python child of a YAML base, reading the base via _base_ too.
_base_ = ['./_base_/losses.yaml']
loss_cls = dict(gamma=_base_.loss_cls.gamma * 0.75)
model = dict(bbox_head=dict(loss_cls=_base_.loss_cls))

# _base_ as a list of two bases; key order = bases in order, then new child keys.
_base_ = ['./_base_/retinanet.py', './_base_/schedule_1x.py']
optim_wrapper = dict(optimizer=dict(lr=0.01))
model = dict(bbox_head=dict(loss_cls=dict(alpha=0.5)))
auto_scale_lr = dict(base_batch_size=16)

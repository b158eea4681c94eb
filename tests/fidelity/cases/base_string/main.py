# _base_ as a single string; child dict merges recursively into the base.
_base_ = './_base_/retinanet.py'
model = dict(bbox_head=dict(num_classes=3, loss_cls=dict(gamma=1.5)))

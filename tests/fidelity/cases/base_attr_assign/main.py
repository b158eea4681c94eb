# model = _base_.model; model.backbone.depth = 101 (attribute assignment on a
# ConfigDict taken from the base; this mutates the base dict too).
_base_ = './_base_/retinanet.py'
model = _base_.model
model.backbone.depth = 101
model.bbox_head.loss_cls.gamma = 1.5
model.bbox_head.loss_cls.new_key = 'added'

# A top-level for loop mutating base heads in place; the loop variables are
# module globals and therefore LEAK as top-level config keys.
_base_ = './_base_/cascade.py'
for i, head in enumerate(_base_.model.roi_head.bbox_head):
    head.num_classes = 3
    head.loss_cls.loss_weight = 1.0 / (i + 1)
model = dict(roi_head=dict(bbox_head=_base_.model.roi_head.bbox_head))

# Cascade-style list of heads overridden in a child: rebuild the list from the
# base heads with dict(h, ...), since a dict cannot merge into a list.
_base_ = './_base_/cascade.py'
num_classes = 3
model = dict(roi_head=dict(bbox_head=[
    dict(h, num_classes=num_classes,
         loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                       loss_weight=w))
    for h, w in zip(_base_.model.roi_head.bbox_head, [1.0, 0.5, 0.25])
]))

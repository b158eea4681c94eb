# mmdetection#3556: a dict over a list-valued base key -> TypeError.
_base_ = './_base_/cascade.py'
model = dict(roi_head=dict(bbox_head=dict(num_classes=2)))

# Misuse: '{{_base_.x}}' inside a Python string becomes a garbage string
# containing a random placeholder (normalised to <RAND6> in expected.json).
_base_ = './_base_/retinanet.py'
model = dict(bbox_head=dict(num_classes='{{_base_.num_classes}}'))

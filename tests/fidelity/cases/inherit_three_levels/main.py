# Three levels: main -> _base_/models/mid.py -> ../root.py (relative to mid).
_base_ = './_base_/models/mid.py'
model = dict(bbox_head=dict(num_classes=3, loss_cls=dict(alpha=0.5)))

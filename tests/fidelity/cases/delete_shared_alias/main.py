# One dict object with _delete_=True used in two places and as a top-level
# variable.  mmengine deep-copies each subtree separately before merging
# (_substitute_base_vars), so the uses are independent: both heads are
# replaced, and the top-level `focal` keeps (leaks) _delete_.
_base_ = './_base_/faster_rcnn.py'
focal = dict(_delete_=True, type='FocalLoss', use_sigmoid=True, gamma=2.0)
model = dict(
    rpn_head=dict(loss_cls=focal),
    roi_head=dict(bbox_head=dict(loss_cls=focal)))

# _delete_ where the base has NO such key: it is not popped and leaks into the
# result (mmdetection#3285).  Same for a new top-level key.
_base_ = './_base_/retinanet.py'
model = dict(bbox_head=dict(
    loss_iou=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)))
extra_loss = dict(_delete_=True, type='DiceLoss')

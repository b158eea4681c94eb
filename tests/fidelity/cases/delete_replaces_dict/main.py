# _delete_=True replaces the base dict entirely (no gamma/alpha left).
_base_ = './_base_/retinanet.py'
model = dict(bbox_head=dict(
    loss_cls=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=True,
                  loss_weight=1.0)))

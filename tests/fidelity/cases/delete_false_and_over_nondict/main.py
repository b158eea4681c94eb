# _delete_=False is popped and the dict merges normally; _delete_=True over a
# None or list base value replaces it without a TypeError.
_base_ = './_base_/model.py'
model = dict(bbox_head=dict(
    loss_cls=dict(_delete_=False, gamma=1.0),
    loss_centerness=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=True),
    strides=dict(_delete_=True, p3=8)))

# A dict over a None base value -> TypeError (needs _delete_=True).
_base_ = './_base_/fcos.py'
model = dict(bbox_head=dict(loss_centerness=dict(type='CrossEntropyLoss',
                                                 use_sigmoid=True)))

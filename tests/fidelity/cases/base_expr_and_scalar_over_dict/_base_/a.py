model = dict(type='FCOS',
             bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0),
                            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True)))

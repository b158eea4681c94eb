model = dict(type='FCOS',
             bbox_head=dict(type='FCOSHead', loss_centerness=None))

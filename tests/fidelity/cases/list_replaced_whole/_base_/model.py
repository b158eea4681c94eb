model = dict(
    type='FCOS',
    bbox_head=dict(
        type='FCOSHead',
        strides=[8, 16, 32, 64, 128],
        regress_ranges=((-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8)),
        losses=[dict(type='FocalLoss', gamma=2.0, loss_weight=1.0),
                dict(type='IoULoss', loss_weight=1.0)]))

_base_ = '../root.py'
model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5),
                            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))
mid_only = 'mid'

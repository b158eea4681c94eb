model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))

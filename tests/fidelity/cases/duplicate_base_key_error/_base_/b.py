model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss')))

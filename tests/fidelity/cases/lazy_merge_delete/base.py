from mmdet.models.losses import CrossEntropyLoss
model = dict(type='FasterRCNN', roi_head=dict(bbox_head=dict(loss_cls=dict(type=CrossEntropyLoss, use_sigmoid=False))))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02))
unused = 1

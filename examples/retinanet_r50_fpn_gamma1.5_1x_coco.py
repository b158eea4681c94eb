_base_ = './retinanet_r50_fpn_1x_coco.py'

# Softer focusing: only gamma and alpha change; type, use_sigmoid and
# loss_weight are inherited from the base FocalLoss.
model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5, alpha=0.5)))

_base_ = ['../../common.py', '../losses/focal.py']
bbox_head = dict(type='RetinaHead', loss_cls=dict(type='FocalLoss', gamma=2.0))

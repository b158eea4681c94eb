# Base in a subdirectory that itself reaches back with '../' and '../../'.
_base_ = './_base_/models/head.py'
bbox_head = dict(loss_cls=dict(gamma=1.0))

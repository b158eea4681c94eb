# _deprecation_ is popped (with a DeprecationWarning) in every file that has it.
_base_ = './_base_/old.py'
_deprecation_ = dict(expected='retinanet_v2.py')
loss_bbox = dict(type='L1Loss')

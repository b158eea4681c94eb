# `import os` AFTER a `_base_` assignment: classic mode; the module is dropped.
_base_ = []
import os
import os.path as osp
data_root = os.path.join('data', 'coco')
ann_file = osp.join(data_root, 'annotations', 'train.json')
loss_cls = dict(type='FocalLoss', gamma=2.0)

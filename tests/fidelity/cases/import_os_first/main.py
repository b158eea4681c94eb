# `import os` as the FIRST statement with no _base_: whether this is classic or
# lazy mode depends on mmengine's _is_builtin_module (environment dependent).
import os
data_root = os.path.join('data', 'coco')
loss_cls = dict(type='FocalLoss', gamma=2.0)

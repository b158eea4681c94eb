model = dict(type='RetinaNet', backbone=dict(depth=50), bbox_head=dict(num_classes=80))
data_preprocessor = dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53])
custom_hooks = [dict(type='EMAHook')]
default_scope = 'mmdet'

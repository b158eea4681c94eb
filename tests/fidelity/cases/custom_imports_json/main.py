# custom_imports with a harmless stdlib module: value recorded as-is.
custom_imports = dict(imports=['json'], allow_failed_imports=False)
loss_cls = dict(type='FocalLoss', gamma=2.0)

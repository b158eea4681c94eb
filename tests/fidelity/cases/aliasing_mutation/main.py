# Shared references: mutating a dict after it was placed in two heads
# changes both (plain Python aliasing).  Also chained assignment a = b = ...
loss_cls = dict(type='FocalLoss', gamma=2.0, alpha=0.25, loss_weight=1.0)
head_a = dict(type='RetinaHead', loss_cls=loss_cls)
head_b = dict(type='RetinaHead', loss_cls=loss_cls)
loss_cls['gamma'] = 1.5
x = y = dict(type='L1Loss', loss_weight=1.0)
y['loss_weight'] = 2.0
strides = [8, 16]
levels = strides
strides += [32]

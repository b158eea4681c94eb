default_scope = 'mmdet'
loss_weight = 1.0

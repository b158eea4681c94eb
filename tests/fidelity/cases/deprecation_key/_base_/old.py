_deprecation_ = dict(expected='new_retinanet.py', reference='https://example.org/pr/1')
loss_cls = dict(type='FocalLoss', gamma=2.0)

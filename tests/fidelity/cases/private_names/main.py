# Globals starting with '__' are dropped; a single leading underscore is kept.
__private = dict(type='FocalLoss', gamma=2.0)
__dunder__ = 'dropped'
_single = 'kept'
loss_cls = __private
loss_name = __dunder__

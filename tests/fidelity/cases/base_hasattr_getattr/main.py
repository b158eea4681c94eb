# hasattr/getattr on `_base_` (mmengine's ConfigDict of the merged bases) and on other values.
_base_ = './base.py'

architecture = _base_.model
if hasattr(_base_, 'data_preprocessor'):
    architecture.update({'data_preprocessor': _base_.data_preprocessor})
    data_preprocessor = {}
if hasattr(_base_, 'missing_key'):
    architecture.update(unreachable=True)
else:
    no_missing = True
architecture['_scope_'] = _base_.default_scope
model = dict(_delete_=True, type='Algorithm', architecture=architecture)

custom_hooks = getattr(_base_, 'custom_hooks', []) + [dict(type='PruningHook')]
extra_hooks = getattr(_base_, 'extra_hooks', []) + [dict(type='InfoHook')]
scope = getattr(_base_, 'default_scope')
depth = getattr(getattr(_base_, 'model'), 'backbone').depth
head_default = getattr(_base_.model.bbox_head, 'loss_cls', None)

plain = dict(a=1)
plain_has_key = hasattr(plain, 'a')
plain_has_method = hasattr(plain, 'keys')
plain_get = getattr(plain, 'a', 'fallback')
cfg_has_method = hasattr(_base_.model, 'keys')
cfg_has_merge = hasattr(_base_.model, 'merge')
text_has_upper = hasattr('abc', 'upper')
text_upper = getattr('abc', 'upper')()
number_real = getattr(3, 'real')
number_missing = hasattr(3, 'nope')

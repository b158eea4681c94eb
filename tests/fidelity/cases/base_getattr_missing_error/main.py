# getattr without a default on a key the merged bases do not have: AttributeError.
_base_ = './base.py'
hooks = getattr(_base_, 'extra_hooks') + [dict(type='InfoHook')]

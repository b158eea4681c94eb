# Two bases defining the same top-level key -> KeyError.
_base_ = ['./_base_/a.py', './_base_/b.py']

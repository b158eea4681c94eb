_base_ = ['./b.py']
# `|` with a ConfigDict on either side merges nested dicts (addict's update); between plain
# dicts it is Python's. `|=` on a ConfigDict updates it in place the same way.
other = _base_.model | dict(x=dict(b=2))
rev = dict(x=dict(b=2), z=1) | _base_.model
plain = dict(x=dict(a=1)) | dict(x=dict(b=2))
m = _base_.extra
m |= dict(k=dict(v=2))
n = dict(k=dict(w=3))
n |= _base_.extra
p = dict(q=dict(a=1))
p |= dict(q=dict(b=2))

# _base_ given by a constant expression (list concatenation) and a scalar
# (None / str) placed over a base dict, which is allowed.
_base_ = ['./_base_/' + 'a.py'] + ['./_base_/b.py']
model = dict(bbox_head=dict(loss_centerness=None, loss_cls='FocalLoss'))

# Lists (and tuples) are replaced whole, never merged element-wise, and the
# child's container type wins (tuple over list, list over tuple).
_base_ = './_base_/model.py'
model = dict(bbox_head=dict(
    strides=(8, 16),
    regress_ranges=[(-1, 64), (64, 1e8)],
    losses=[dict(loss_weight=0.5)]))

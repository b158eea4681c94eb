# Non-string dict keys (encoded as __dict_items__) merge like any other key.
_base_ = './_base_/weights.py'
class_weight_map = {1: 0.5, 2: 3.0}
level_loss = {i: dict(type='FocalLoss', gamma=2.0 - 0.5 * i) for i in range(2)}

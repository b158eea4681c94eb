# Conditional expressions, in / not in, chained comparisons, and/or/not values,
# and a top-level if/else statement.
use_focal = True
num_classes = 1
loss_cls = (dict(type='FocalLoss', use_sigmoid=True, gamma=2.0)
            if use_focal else dict(type='CrossEntropyLoss', use_sigmoid=False))
is_binary = num_classes == 1
in_range = 0 < num_classes <= 80
has_focal = 'Focal' in loss_cls['type']
no_ce = 'CrossEntropyLoss' not in [loss_cls['type']]
reduction = None or 'mean'
first_truthy = 0 or '' or 'sum'
both = use_focal and 'yes'
negated = not use_focal
is_none = loss_cls.get('alpha') is None
if num_classes > 1:
    loss_bbox = dict(type='L1Loss', loss_weight=1.0)
else:
    loss_bbox = dict(type='GIoULoss', loss_weight=2.0)

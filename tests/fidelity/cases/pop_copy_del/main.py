# .pop / .pop(default) / .copy() (shallow) / del x['k'] / del a top-level name.
loss_cls = dict(type='FocalLoss', gamma=2.0, alpha=0.25, reduction='mean',
                extra=dict(eps=1e-6))
popped_gamma = loss_cls.pop('gamma')
missing = loss_cls.pop('avg_non_zero', 'default')
loss_copy = loss_cls.copy()
loss_copy['type'] = 'QualityFocalLoss'
loss_copy['extra']['eps'] = 1e-3
del loss_cls['reduction']
tmp = dict(scratch=True)
del tmp
lst = [1, 2, 3]
del lst[0]

# dict.update on a plain (child-defined) dict is SHALLOW: the nested dict is replaced.
loss_cls = dict(type='FocalLoss', gamma=2.0, extra=dict(a=1, b=2))
loss_cls.update(dict(extra=dict(a=5)), alpha=0.25)
head = dict(type='RetinaHead', loss_cls=loss_cls)
head.update(loss_cls=dict(gamma=1.0))

# dict(a, **b), dict(**a, x=1), {**a, 'x': 1}, dict(a, x=1) override, [*l, ...].
base_loss = dict(type='FocalLoss', gamma=2.0, alpha=0.25)
extra = dict(loss_weight=2.0, alpha=0.5)
a = dict(base_loss, **extra)
b = dict(**base_loss, loss_weight=1.0)
c = {**base_loss, 'gamma': 1.0, 'reduction': 'sum'}
d = dict(base_loss, gamma=3.0)
e = {'reduction': 'none', **base_loss}
f = dict([('type', 'L1Loss'), ('loss_weight', 0.1)])
g = dict(zip(['type', 'beta'], ['SmoothL1Loss', 0.11]))
strides = [8, 16, 32]
more_strides = [*strides, 64, 128]

# A def and a lambda used to compute values; the functions themselves are dropped.
def focal(gamma, weight=1.0):
    return dict(type='FocalLoss', use_sigmoid=True, gamma=gamma, loss_weight=weight)


scale = lambda x: x * 2  # noqa: E731
loss_cls = focal(2.0)
aux_loss = focal(gamma=1.0, weight=scale(0.25))

focal = dict(type='FocalLoss', gamma=2.0, alpha=0.25)

focal_defaults = dict(use_sigmoid=True, alpha=0.25)

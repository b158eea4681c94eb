model = dict(x=dict(a=1), y=3)
extra = dict(k=dict(u=1))

base_lr = 0.01
optim_wrapper = dict(optimizer=dict(type='SGD', lr=base_lr, momentum=0.9))

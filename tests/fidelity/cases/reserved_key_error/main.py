# 'filename' (also text, pretty_text, env_variables) is reserved -> KeyError.
filename = 'instances_train2017.json'
loss_cls = dict(type='FocalLoss', gamma=2.0)

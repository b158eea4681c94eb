# ConfigDict.update ignores _delete_: it recursively merges into the base loss
# (gamma/alpha survive), then the file merge pops _delete_ and "replaces" the
# base loss with the already-merged dict.
_base_ = './_base_/retinanet.py'
model = _base_.model
model.bbox_head.update(
    loss_cls=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False))

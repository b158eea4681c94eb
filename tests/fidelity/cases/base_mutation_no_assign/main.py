# The child never assigns `model`, yet mutating _base_.model in place changes
# the merged result, because the same base dict is merged after eval.
_base_ = './_base_/retinanet.py'
_base_.model.bbox_head.loss_cls.gamma = 0.5
_base_.optim_wrapper.optimizer['lr'] = 0.02

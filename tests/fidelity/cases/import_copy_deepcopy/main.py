# copy.deepcopy of a base value: edits to the copy do not reach the base.
_base_ = './_base_/retinanet.py'
import copy
aux_loss = copy.deepcopy(_base_.model.bbox_head.loss_cls)
aux_loss.gamma = 1.0
shallow = _base_.model.bbox_head.loss_cls.copy()
shallow['alpha'] = 0.5

# Reading _base_ values by attribute and subscript and computing with them.
_base_ = './_base_/retinanet.py'
num_classes = _base_.num_classes // 4
aux_loss = dict(type='FocalLoss',
                gamma=_base_.model.bbox_head.loss_cls.gamma + 0.5,
                alpha=_base_['model']['bbox_head']['loss_cls']['alpha'],
                loss_weight=_base_.loss_weight * 2)
model = dict(bbox_head=dict(num_classes=num_classes, aux_loss=aux_loss))
base_type = _base_.model.get('type')

# {{_base_.x}} in Python: replaced by a placeholder string during eval and by
# a deep copy of the base value afterwards -- also through variables and lists.
_base_ = './_base_/retinanet.py'
nc = {{_base_.num_classes}}
aux_loss = {{ _base_.model.bbox_head.loss_cls }}
model = dict(bbox_head=dict(num_classes=nc, aux_losses=[{{_base_.focal}}] * 2))

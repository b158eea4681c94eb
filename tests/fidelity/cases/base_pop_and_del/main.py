# .pop / del on _base_ values mutate the base dict that is merged afterwards,
# so the keys disappear from the result even though the child never assigns `model`.
_base_ = './_base_/faster_rcnn.py'
old_bbox = _base_.model.rpn_head.pop('loss_bbox')
del _base_.model.roi_head.bbox_head['reg_decoded_bbox']

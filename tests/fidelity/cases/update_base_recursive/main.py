# .update on a value taken from _base_ is ConfigDict.update, which is RECURSIVE:
# nested dicts are merged, not replaced (unlike update_plain_dict).
_base_ = './_base_/retinanet.py'
head = _base_.model.bbox_head
head.update(dict(loss_cls=dict(gamma=1.5), num_classes=3))
model = dict(bbox_head=head)

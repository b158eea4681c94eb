# Substitution is plain text over the whole file, comments included:
# usage: LT_COMMENT_ONLY=... python train.py  ({{$LT_COMMENT_ONLY:}})
loss_cls = dict(type='FocalLoss', gamma=2.0)

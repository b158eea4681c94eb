# Env-var templates with the variables UNSET: defaults are used.  Inside a
# string the token is replaced in place; the quoted form (quotes inside the
# braces) substitutes a bare token, here an int / float literal.
_base_ = './_base_/dataset.py'
num_classes = {{'$LT_NUM_CLASSES:80'}}
loss_cls = dict(type='FocalLoss', gamma={{"$LT_GAMMA:2.0"}}, alpha=0.25)
work_dir = './work_dirs/{{ $LT_EXP : retina }}'

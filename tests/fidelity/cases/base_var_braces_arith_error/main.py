# {{_base_.x}} is a *string* placeholder while the child is evaluated, so
# arithmetic on it fails.
_base_ = './_base_/retinanet.py'
num_classes = {{_base_.num_classes}} + 1

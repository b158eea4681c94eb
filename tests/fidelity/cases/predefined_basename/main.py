# {{ fileBasenameNoExtension }} / {{fileBasename}} / {{fileExtname}} are
# substituted per file (the base sees its own name).
_base_ = './_base_/default_runtime.py'
work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
cfg_name = '{{fileBasename}}'
ext = '{{fileExtname}}'
loss_cls = dict(type='FocalLoss', gamma=2.0, tag='{{fileBasenameNoExtension}}_cls')

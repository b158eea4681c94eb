# Same as env_var_unset but with the variables SET (see env.json): env values
# replace the whole template token, in the child and in the base.
_base_ = './_base_/dataset.py'
num_classes = {{'$LT_NUM_CLASSES:80'}}
loss_cls = dict(type='FocalLoss', gamma={{"$LT_GAMMA:2.0"}}, alpha=0.25)
work_dir = './work_dirs/{{ $LT_EXP : retina }}'

# Augmented assignment: ints, floats, strings, lists (in place, aliased),
# subscript targets, attribute targets on base values.
_base_ = './_base_/schedule.py'
base_lr = _base_.base_lr
base_lr *= 0.5
epochs = 12
epochs += 12
suffix = 'retina'
suffix += '_focal'
loss_cls = dict(type='FocalLoss', gamma=2.0, loss_weight=1.0)
loss_cls['loss_weight'] *= 2
loss_cls['gamma'] -= 0.5
milestones = [8]
alias = milestones
milestones += [11]
optim_wrapper = _base_.optim_wrapper
optim_wrapper.optimizer.lr /= 4

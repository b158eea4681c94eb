# _base_ is evaluated on its own, with no access to other globals -> NameError.
base_dir = './_base_/'
_base_ = [base_dir + 'a.py']

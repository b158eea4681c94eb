# {{fileDirname}} is the absolute dir of each file (normalised to <CASE_DIR>);
# a base reached via "../" is normalised (abspath), no "models/.." segment.
_base_ = './_base_/models/retinanet.py'
data_root = '{{fileDirname}}/data/'

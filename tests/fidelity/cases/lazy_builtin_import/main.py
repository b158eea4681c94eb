from mmengine.config import read_base
from math import sqrt
import os.path as osp
from mmdet.models.losses import SmoothL1Loss

with read_base():
    from .base import *

loss_bbox = dict(type=SmoothL1Loss, beta=1.0 / 9.0)

"""losstune: see, edit and check the losses of MMDetection configs without running them.

>>> import losstune
>>> cfg = losstune.load("examples/retinanet_r50_fpn_1x_coco.py")
>>> cfg.get("loss_cls.gamma")
2.0
>>> str(cfg.origin("loss_cls.gamma"))
'examples/_base_/models/retinanet_r50_fpn.py:46'
"""

from losstune.config import LoadedConfig, load
from losstune.engine import Trace, evaluate
from losstune.keypath import KeyPathError
from losstune.loader.resolve import Resolver
from losstune.locate import LossNode, SamplerRef
from losstune.model import ConfigError, Diagnostic, Origin, Severity, Span

__all__ = [
    "ConfigError",
    "Diagnostic",
    "KeyPathError",
    "LoadedConfig",
    "LossNode",
    "Origin",
    "Resolver",
    "SamplerRef",
    "Severity",
    "Span",
    "Trace",
    "evaluate",
    "load",
]
__version__ = "0.1.0"

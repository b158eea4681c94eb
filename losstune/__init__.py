"""losstune: see, edit and check the losses of MMDetection configs without running them.

>>> import os, losstune
>>> cfg = losstune.load("examples/retinanet_r50_fpn_1x_coco.py")
>>> cfg.get("loss_cls.gamma")
2.0
>>> span = cfg.origin("loss_cls.gamma").span  # its file is an absolute path
>>> os.path.relpath(span.file), span.line
('examples/_base_/models/retinanet_r50_fpn.py', 46)

The public names are imported on first use, so that ``import losstune`` (and every command of
the ``losstune`` program, which lives in this package) pays only for what it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from losstune.config import LoadedConfig, load
    from losstune.engine import Trace, evaluate
    from losstune.keypath import KeyPathError
    from losstune.loader.resolve import Resolver
    from losstune.locate import LossNode, SamplerRef
    from losstune.model import ConfigError, Diagnostic, Origin, Severity, Span

# Each public name, and the module that defines it.
_HOMES = {
    "ConfigError": "losstune.model",
    "Diagnostic": "losstune.model",
    "KeyPathError": "losstune.keypath",
    "LoadedConfig": "losstune.config",
    "LossNode": "losstune.locate",
    "Origin": "losstune.model",
    "Resolver": "losstune.loader.resolve",
    "SamplerRef": "losstune.locate",
    "Severity": "losstune.model",
    "Span": "losstune.model",
    "Trace": "losstune.engine",
    "evaluate": "losstune.engine",
    "load": "losstune.config",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use, and keep it here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'losstune' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})

"""A stand-in for mmcv's compiled operators where the installed mmcv ships none (mmcv-lite has no
``mmcv._ext``, so ``import mmdet.models`` fails there). The stand-in lives in this process's
``sys.modules`` only, never on disk: every module of ``mmcv.ops`` imports, and calling one of its
compiled functions raises :class:`CompiledOpMissing` naming it. Heads that need no compiled op on the
CPU (the dense heads, the DETR family, whose deformable attention has a PyTorch path) run as they
would with the full mmcv."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any

from losstune.errors import LosstuneError

EXT = "mmcv._ext"


class CompiledOpMissing(LosstuneError):
    """A head called one of mmcv's compiled operators, which the installed mmcv does not ship."""

    def __init__(self, op: str) -> None:
        super().__init__(op)
        self.op = op


def _missing(name: str) -> Callable[..., Any]:
    def op(*args: Any, **kwargs: Any) -> Any:
        raise CompiledOpMissing(name)

    op.__name__ = op.__qualname__ = name
    return op


class _StandIn(types.ModuleType):
    """``mmcv._ext`` with every name an op that raises :class:`CompiledOpMissing` when called."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _missing(name)


def is_stand_in(module: object) -> bool:
    """Whether ``module`` is the stand-in for mmcv's compiled operators."""
    return isinstance(module, _StandIn)


def ensure_ops() -> bool:
    """Put the stand-in in ``sys.modules`` where mmcv is installed without its compiled operators;
    True when the stand-in is in use (now or from an earlier call)."""
    current = sys.modules.get(EXT)
    if current is not None:
        return is_stand_in(current)
    if importlib.util.find_spec("mmcv") is None or importlib.util.find_spec(EXT) is not None:
        return False
    stand_in = _StandIn(EXT, "mmcv's compiled operators, absent from this mmcv (calling one raises)")
    # a spec without a loader: importlib.util.find_spec (mmengine's mmcv_full_available) says no compiled ops
    stand_in.__spec__ = importlib.machinery.ModuleSpec(EXT, None)
    sys.modules[EXT] = stand_in
    return True

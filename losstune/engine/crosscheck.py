"""The final value of ``losstune eval`` against a plain call of MMDetection's own loss module on the
same inputs, where MMDetection 3.x can be imported in the user's environment."""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from typing import Any

import torch

from losstune.engine.trace import terms
from losstune.schema.catalogue import bare_type

RTOL = 1e-5


@dataclass(frozen=True)
class CrossCheck:
    """What the engine's loss was compared with, and the outcome (``equal`` is None: not compared)."""

    reference: str
    equal: bool | None
    detail: str = ""


def _mmdet_losses(major: int) -> tuple[Any, str] | str:
    """MMDetection's ``mmdet.models.losses`` and its version, or why they cannot be used."""
    from losstune.engine.realhead.importing import quiet
    from losstune.engine.realhead.ops import ensure_ops

    try:
        mmdet = importlib.import_module("mmdet")
        version = str(getattr(mmdet, "__version__", "?"))
        if not version.startswith(f"{major}."):
            return f"the installed MMDetection is {version}; the loss was evaluated as {major}.x computes it"
        with quiet():
            # mmcv-lite has no compiled operators, without which `mmdet.models` does not import;
            # the loss modules use none of them on the CPU.
            ensure_ops()
            return importlib.import_module("mmdet.models.losses"), version
    except Exception as e:  # any import failure (no mmdet, no mmcv, a broken build) means: not compared
        return f"MMDetection {major}.x cannot be imported here ({type(e).__name__}: {e})"


def crosscheck(
    loss_cfg: dict[str, Any], loss: Any, args: list[Any], kwargs: dict[str, Any], major: int = 3
) -> CrossCheck:
    """Build the configured loss with the installed MMDetection (when it is ``major``.x), call it on
    ``args``/``kwargs`` and compare its result with ``loss`` (relative difference at most 1e-5)."""
    found = _mmdet_losses(major)
    if isinstance(found, str):
        return CrossCheck("MMDetection", None, found)
    losses, version = found
    kind = bare_type(str(loss_cfg.get("type")))
    name = f"MMDetection {version}'s {kind}"
    cls = getattr(losses, kind, None)
    if cls is None:
        return CrossCheck(name, None, f"mmdet.models.losses has no {kind}")
    params = {k: v for k, v in loss_cfg.items() if k not in ("type", "_scope_")}
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    try:
        with torch.no_grad():
            module = cls(**params)
            if tensors and hasattr(module, "to"):  # SeesawLoss keeps its class counts in a buffer
                module = module.to(tensors[0].device)
            theirs = module(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except Exception as e:  # the module failed where the engine did not: report it, do not hide it
        return CrossCheck(name, False, f"it raised {type(e).__name__}: {e}")
    if isinstance(theirs, tuple) and isinstance(loss, tuple) and len(theirs) == len(loss):
        theirs = type(loss)(*theirs)  # a pair the module returns unnamed: by position
    ours, want = terms(loss), terms(theirs)
    if ours.keys() != want.keys():
        return CrossCheck(name, False, f"it returned {', '.join(want)}, not {', '.join(ours)}")
    for key, value in want.items():
        got = ours[key]
        if got.shape != value.shape or not torch.allclose(got.float(), value.float(), rtol=RTOL, atol=1e-7):
            shown = value.item() if value.numel() == 1 else f"a tensor of shape {list(value.shape)}"
            return CrossCheck(name, False, f"it returned {key} = {shown}")
    return CrossCheck(name, True)

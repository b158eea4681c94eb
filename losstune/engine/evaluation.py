"""``evaluate``: the module of a configured loss, found by its ``type`` for the MMDetection version
asked for, run on the arguments its ``forward`` takes. The losses (and torch) are imported only
when a loss is evaluated."""

from __future__ import annotations

from typing import Any

from losstune.engine.trace import Trace, UnsupportedLoss
from losstune.schema.catalogue import bare_type


def evaluate(loss_cfg: dict[str, Any], *args: Any, mmdet_version: int = 3, **kwargs: Any) -> Trace:
    """Evaluate the loss configured by ``loss_cfg`` (``dict(type='FocalLoss', gamma=1.5)``) on the
    arguments MMDetection's module ``forward`` takes, in the same order and with the same names, as
    MMDetection 3.x computes it (``mmdet_version=2``: as 2.x does, where the two differ)."""
    from losstune.engine import losses, v2

    cfg = dict(loss_cfg)
    type_name = bare_type(str(cfg.pop("type", "")))
    if mmdet_version not in (2, 3):
        raise ValueError(f"mmdet_version must be 2 or 3, not {mmdet_version!r}")
    if mmdet_version == 2 and type_name in v2.ONLY_IN_3:
        raise UnsupportedLoss(f"`{type_name}` does not exist in MMDetection 2.x (it was added in 3.0)")
    cls = (v2.LOSSES_2.get(type_name) if mmdet_version == 2 else None) or losses.LOSSES.get(type_name)
    if cls is None:
        known = ", ".join(sorted(losses.LOSSES))
        raise UnsupportedLoss(f"`{type_name}` cannot be evaluated by losstune yet; it evaluates {known}")
    cfg.pop("_scope_", None)
    module = cls(**cfg)
    trace = Trace(type_name)
    trace.loss = module.forward(trace, *args, **kwargs)
    return trace

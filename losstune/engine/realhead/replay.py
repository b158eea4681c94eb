"""A batch written by ``--save-batch``, run again through MMDetection's own head: the head built from
the config it was built from, its weights loaded, its ``loss`` called on the same inputs at the
same training epoch, and the loss dict summed as mmengine logs it."""

from __future__ import annotations

from typing import Any

from losstune.engine import tensorfile
from losstune.engine.realhead.batch import LAYOUT, data_sample, is_samples
from losstune.engine.realhead.importing import load_mmdet, quiet
from losstune.engine.realhead.run import at_epoch


class NotABatch(ValueError):
    """A file that is not a batch written by ``--save-batch``."""


def _inputs(saved: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, v in saved.items():
        if isinstance(v, list) and v and all(isinstance(s, dict) and "metainfo" in s for s in v):
            out[name] = [data_sample(s) for s in v]
        else:
            out[name] = v
    return out


def replay(path: str) -> dict[str, float]:
    """The loss dict MMDetection's head returns on the batch saved at ``path``, as mmengine logs it
    (a list of per-level losses summed; ``loss``: the total)."""
    import torch

    data = tensorfile.load(path)
    if not isinstance(data, dict) or data.get("layout") != LAYOUT:
        raise NotABatch(f"{path} is not a batch written by `losstune eval --through-head --save-batch`")
    mm = load_mmdet()
    with quiet():
        from mmengine.config import ConfigDict
        from mmengine.model import BaseModel
        from mmengine.registry import init_default_scope

        init_default_scope("mmdet")
        head = mm.models.build(ConfigDict(data["head"]["config"]))
        head.load_state_dict(data["head"]["state_dict"])
        head.train()
        inputs = _inputs(data["inputs"])
        assert any(is_samples(v) for v in inputs.values())
        torch.manual_seed(data["seed"])
        epoch = data.get("epoch", 0)
        with at_epoch(epoch if isinstance(epoch, int) else 0):
            losses = head.loss(**inputs)
        _, log_vars = BaseModel.parse_losses(head, losses)
    return {k: float(v.item()) for k, v in log_vars.items()}

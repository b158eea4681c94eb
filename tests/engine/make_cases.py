#!/usr/bin/env python
"""Record what MMDetection 3.3.0's (and 2.28.2's) own loss modules return, for tests/test_engine.py.

Usage (from the repository root)::

    pip download --no-deps mmdet==3.3.0 -d /tmp/mmdet && unzip -q -o /tmp/mmdet/mmdet-3.3.0-*.whl -d /tmp/mmdet/src
    .venv/bin/pip install six
    .venv/bin/python tests/engine/make_cases.py /tmp/mmdet/src

    # MMDetection 2.28.2, into tests/engine/cases_v2.json
    pip download --no-deps mmdet==2.28.2 -d /tmp/mmdet2 && unzip -q -o /tmp/mmdet2/mmdet-2.28.2-*.whl -d /tmp/mmdet2/src
    .venv/bin/python tests/engine/make_cases.py --v2 /tmp/mmdet2/src

MMDetection's package imports mmcv and a few heavy libraries at import time that its losses never
use on the CPU; they are replaced by stand-ins that fail if called, so a case that needed one would
fail here rather than record a wrong value. Inputs are drawn from a seeded generator; each case
stores the loss config, the forward arguments and MMDetection's result (or the exception it raises).

With --v2 the same cases are given to MMDetection 2.28.2 (mmcv 1.x's ``jit`` and ``Registry`` are
stood in for by no-ops), less those 2.28.2 cannot express (EIoULoss, SIoULoss, GaussianFocalLoss's
pos_weight/neg_weight and its pos_inds/pos_labels arguments), and then cases of their own, drawn from
their own seeds, where 2.28.2 and 3.3.0 are known to differ.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import random
import sys
import types
import warnings
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("cases.json")
OUT_V2 = Path(__file__).with_name("cases_v2.json")


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StandIn(f"{self.__name__}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.__name__} is a stand-in and was called")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    PREFIXES = ("mmcv", "pycocotools", "shapely", "terminaltables", "scipy", "fairscale", "mmpretrain")

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name.startswith(self.PREFIXES):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> Any:
        module = _StandIn(spec.name)
        module.__path__ = []  # type: ignore[attr-defined]
        if spec.name == "mmcv":
            module.__version__ = "2.1.0"  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: Any) -> None:
        pass


def load_mmdet_losses(src: str) -> Any:
    sys.meta_path.insert(0, _Finder())
    sys.path.insert(0, src)
    import mmdet  # noqa: F401  (only version checks)

    models = types.ModuleType("mmdet.models")
    models.__path__ = [str(Path(src) / "mmdet" / "models")]  # type: ignore[attr-defined]
    sys.modules["mmdet.models"] = models
    import mmdet.models.losses as losses

    return losses


class _Registry:
    """mmcv 1.x's Registry, as far as importing MMDetection 2.x's losses needs: registering returns the class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def register_module(self, *args: Any, **kwargs: Any) -> Any:
        return lambda cls: cls


def _jit(*args: Any, **kwargs: Any) -> Any:
    """mmcv 1.x's ``jit`` decorator factory, a no-op on the CPU: returns the function unchanged."""
    return lambda fn: fn


def load_mmdet2_losses(src: str) -> Any:
    sys.meta_path.insert(0, _Finder())
    sys.path.insert(0, src)
    import mmcv

    mmcv.__version__ = "1.7.0"  # mmdet 2.x asserts 1.3.17 <= mmcv <= 1.8.0
    mmcv.jit = _jit
    import mmcv.utils

    mmcv.utils.Registry = _Registry
    import mmdet

    if mmdet.__version__ != "2.28.2":
        raise SystemExit(f"{src} holds MMDetection {mmdet.__version__}, not 2.28.2")
    # mmdet.core would import every box, mask and evaluation module; the losses only need bbox_overlaps
    for name in ("models", "core", "core/bbox", "core/bbox/iou_calculators"):
        package = types.ModuleType("mmdet." + name.replace("/", "."))
        package.__path__ = [str(Path(src) / "mmdet" / name)]  # type: ignore[attr-defined]
        sys.modules[package.__name__] = package
    from mmdet.core.bbox.iou_calculators.iou2d_calculator import bbox_overlaps

    sys.modules["mmdet.core"].bbox_overlaps = bbox_overlaps  # type: ignore[attr-defined]
    import mmdet.models.losses as losses

    return losses


def encode(x: Any) -> Any:
    import torch

    if isinstance(x, torch.Tensor):
        return {"tensor": x.tolist(), "dtype": str(x.dtype).replace("torch.", ""), "shape": list(x.shape)}
    if isinstance(x, tuple):
        return {"tuple": [encode(v) for v in x]}
    if isinstance(x, dict):
        return {"dict": {k: encode(v) for k, v in x.items()}}
    return x


def cases(rng: random.Random) -> Any:
    import torch

    torch.manual_seed(0)

    def boxes(n: int) -> Any:
        xy = torch.rand(n, 2) * 50
        return torch.cat([xy, xy + torch.rand(n, 2) * 30 + 1], 1)

    for _ in range(10):
        n, c = rng.randint(1, 8), rng.randint(1, 5)
        w = torch.rand(n) if rng.random() < 0.5 else None
        avg = rng.choice([None, float(rng.randint(1, 9))])
        red = rng.choice([None, "mean", "sum", "none"])
        if avg is not None and red == "sum":
            red = "mean"
        kw = {"weight": w, "avg_factor": avg, "reduction_override": red}
        p, t = torch.randn(n, 4), torch.randn(n, 4)
        kw4 = dict(kw, weight=torch.rand(n, 4) if rng.random() < 0.5 else None)
        yield {"type": "L1Loss", "loss_weight": round(rng.uniform(0.1, 3), 3)}, (p, t), kw4
        yield {"type": "SmoothL1Loss", "beta": rng.choice([1.0, 1 / 9, 0.5]), "loss_weight": 2.0}, (p, t), kw4
        yield {"type": "MSELoss", "loss_weight": 0.5}, (p, t), kw4
        score, label = torch.randn(n, c + 1), torch.randint(0, c + 1, (n,))
        cw = [round(rng.uniform(0.1, 2), 3) for _ in range(c + 1)] if rng.random() < 0.4 else None
        ce = {"type": "CrossEntropyLoss", "class_weight": cw, "ignore_index": rng.choice([None, 0])}
        yield dict(ce, avg_non_ignore=rng.random() < 0.5, loss_weight=1.5), (score, label), kw
        score, label = torch.randn(n, c), torch.randint(0, c + 1, (n,))
        yield {"type": "CrossEntropyLoss", "use_sigmoid": True}, (score, label), kw
        masks, targets, labels = torch.randn(n, c, 4, 4), torch.rand(n, 4, 4).round(), torch.randint(0, c, (n,))
        mask_cw = [2.0] if rng.random() < 0.5 else None
        yield {"type": "CrossEntropyLoss", "use_mask": True, "class_weight": mask_cw}, (masks, targets, labels), {}
        focal = {"type": "FocalLoss", "gamma": rng.choice([0.0, 1.5, 2.0]), "alpha": rng.choice([0.25, 0.5])}
        yield focal, (score, label), kw
        onehot = torch.nn.functional.one_hot(label, c + 1)[:, :c].float()
        yield focal, (score, onehot), kw
        yield dict(focal, activated=True), (score.sigmoid(), label), kw
        b1, b2 = boxes(n), boxes(n)
        kwb = dict(kw, weight=torch.rand(n) if rng.random() < 0.5 else None)
        yield {"type": "GIoULoss", "loss_weight": 2.0}, (b1, b2), kwb
        for mode in ("linear", "square", "log"):
            yield {"type": "IoULoss", "mode": mode}, (b1, b2), kwb
        # the rest of the focal family, distillation, box losses from distances, dense losses
        yield {"type": "BalancedL1Loss", "alpha": 0.5, "gamma": 1.5, "beta": rng.choice([1.0, 0.5])}, (p, t), kw4
        qfl = {"type": "QualityFocalLoss", "beta": rng.choice([1.0, 2.0])}
        yield qfl, (score, (label, torch.rand(n))), kw
        soft = torch.rand(n, c) * (torch.rand(n, c) > 0.7)
        yield qfl, (score, soft), kw
        yield dict(qfl, activated=True), (score.sigmoid(), (label, torch.rand(n))), kw
        yield (
            {"type": "VarifocalLoss", "alpha": 0.75, "gamma": 2.0, "iou_weighted": rng.random() < 0.5},
            (
                score,
                soft,
            ),
            dict(kw, weight=torch.rand(n, c) if rng.random() < 0.5 else None),
        )
        bins = rng.randint(3, 8)
        yield (
            {"type": "DistributionFocalLoss", "loss_weight": 0.25},
            (
                torch.randn(n, bins + 1),
                torch.rand(n) * bins,
            ),
            kw,
        )
        yield (
            {"type": "KnowledgeDistillationKLDivLoss", "T": rng.choice([1, 10])},
            (
                torch.randn(n, c + 1),
                torch.randn(n, c + 1),
            ),
            kw,
        )
        for box_loss in ("DIoULoss", "CIoULoss", "EIoULoss", "SIoULoss"):
            yield {"type": box_loss, "loss_weight": 2.0}, (b1, b2), kwb
            if box_loss == "SIoULoss":
                yield {"type": box_loss, "neg_gamma": True}, (b1, b2), kwb
        yield {"type": "BoundedIoULoss", "beta": 0.2}, (b1, b2), dict(kw, weight=torch.rand(n, 4))
        heat, gauss = torch.rand(2, c, 5, 5).clamp(0.01, 0.99), torch.rand(2, c, 5, 5)
        gauss[0, 0, 2, 2] = 1.0
        gfl = {"type": "GaussianFocalLoss", "alpha": 2.0, "gamma": 4.0}
        yield gfl, (heat, gauss), {"avg_factor": avg, "reduction_override": red}
        flat, flat_target = torch.rand(n * 3, c).clamp(0.01, 0.99), torch.rand(n * 3, c)
        pos_inds = torch.tensor([0, min(2, n * 3 - 1)])
        yield (
            dict(gfl, pos_weight=2.0),
            (flat, flat_target, pos_inds, torch.tensor([0, c - 1])),
            {
                "avg_factor": avg,
                "reduction_override": red,
            },
        )
        dice = {"type": "DiceLoss", "naive_dice": rng.random() < 0.5}
        yield (
            dice,
            (torch.randn(n, 6, 6), (torch.rand(n, 6, 6) > 0.5).float()),
            {
                "weight": torch.rand(n) if rng.random() < 0.5 else None,
                "avg_factor": avg,
                "reduction_override": red,
            },
        )
        ghm = {"bins": rng.choice([10, 30]), "momentum": rng.choice([0, 0.75])}
        yield (
            dict(ghm, type="GHMC"),
            (score, label, torch.rand(n).round()),
            {"reduction_override": rng.choice([None, "none"])},
        )
        yield dict(ghm, type="GHMR", mu=0.02), (p, t, (torch.rand(n, 4) > 0.3).float()), {}
    yield {"type": "L1Loss"}, (torch.randn(3, 4), torch.randn(3, 4)), {"weight": torch.zeros(3, 4)}
    yield {"type": "GIoULoss"}, (boxes(3), boxes(3)), {"weight": torch.zeros(3)}
    yield {"type": "L1Loss"}, (torch.randn(3, 4), torch.randn(3, 4)), {"reduction_override": "avg"}
    yield {"type": "L1Loss", "reduction": "avg"}, (torch.randn(3, 4), torch.randn(3, 4)), {}
    yield {"type": "L1Loss", "reduction": "sum"}, (torch.randn(3, 4), torch.randn(3, 4)), {"avg_factor": 2.0}
    # SeesawLoss: its class counts start from zero in each fresh module, as here
    for _ in range(12):
        n, c = rng.randint(1, 12), rng.randint(2, 6)
        avg = rng.choice([None, float(rng.randint(1, 9))])
        red = rng.choice([None, "mean", "sum", "none"])
        if avg is not None and red == "sum":
            red = "mean"
        seesaw = {
            "type": "SeesawLoss",
            "num_classes": c,
            "p": rng.choice([0.0, 0.8, 1.5]),
            "q": rng.choice([0.0, 2.0, 1.0]),
            "loss_weight": rng.choice([1.0, 2.5]),
            "return_dict": rng.random() < 0.6,
        }
        labels = torch.randint(0, c + 1, (n,))
        kw = {"avg_factor": avg, "reduction_override": red}
        if rng.random() < 0.5:
            kw["label_weights"] = torch.rand(n)
        yield seesaw, (torch.randn(n, c + 2), labels), kw
    yield {"type": "SeesawLoss", "num_classes": 3}, (torch.randn(4, 5), torch.full((4,), 3)), {}
    yield {"type": "SeesawLoss", "num_classes": 3}, (torch.randn(4, 4), torch.tensor([0, 1, 2, 3])), {}


def in_v2(losses: Any, cfg: dict[str, Any], args: tuple[Any, ...]) -> bool:
    """Whether MMDetection 2.28.2 can express a 3.x case: the loss exists, takes these parameters and arguments."""
    if not hasattr(losses, cfg["type"]):  # EIoULoss, SIoULoss
        return False
    if cfg["type"] == "GaussianFocalLoss":  # 2.x has no pos_weight/neg_weight and no pos_inds/pos_labels
        return "pos_weight" not in cfg and "neg_weight" not in cfg and len(args) == 2
    return True


def cases_v2(rng: random.Random) -> Any:
    """Cases only the 2.28.2 recording has, where MMDetection 2.28.2 and 3.3.0 are known to differ."""
    import torch

    g = torch.Generator().manual_seed(2)

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, generator=g)

    def rand(*shape: int) -> Any:
        return torch.rand(*shape, generator=g)

    # 3.x returns (pred * weight).sum() when no weight is positive; 2.x reduces the weighted loss as usual
    for loss in ({"type": "L1Loss", "loss_weight": 2.0}, {"type": "SmoothL1Loss", "beta": 0.5, "loss_weight": 2.0}):
        n = rng.randint(2, 6)
        p, t = randn(n, 4), randn(n, 4)
        non_positive = -rand(n, 4) * (rand(n, 4) > 0.3)
        for weight in (torch.zeros(n, 4), non_positive):
            for red in (None, "none", "mean", "sum"):
                yield loss, (p, t), {"weight": weight, "reduction_override": red}
        yield loss, (randn(3, 4), randn(3, 4)), {"weight": torch.zeros(3)}
    # FocalLoss: 3.x takes one-hot (N, C) targets as well as labels (N,); 2.x one-hot encodes whatever it gets
    n, c = rng.randint(3, 7), rng.randint(2, 5)
    score, label = randn(n, c), torch.randint(0, c + 1, (n,), generator=g)
    onehot = torch.nn.functional.one_hot(label, c + 1)[:, :c].float()
    focal = {"type": "FocalLoss", "gamma": rng.choice([1.5, 2.0]), "alpha": rng.choice([0.25, 0.5])}
    weight, avg = rand(n), float(rng.randint(1, 9))
    yield focal, (score, onehot), {}
    yield dict(focal, activated=True), (score.sigmoid(), onehot), {}
    yield focal, (score, label), {}
    yield focal, (score, label), {"weight": weight, "avg_factor": avg}
    yield dict(focal, activated=True), (score.sigmoid(), label), {"reduction_override": "none"}
    # QualityFocalLoss: 3.x also takes an (N, C) soft target; 2.x unpacks the target as (label, score)
    qfl = {"type": "QualityFocalLoss", "beta": rng.choice([1.0, 2.0])}
    soft = onehot * rand(n, 1)
    yield qfl, (score, soft), {}
    yield dict(qfl, activated=True), (score.sigmoid(), soft), {}
    yield qfl, (score, (label, rand(n))), {"weight": weight, "avg_factor": avg}
    yield dict(qfl, activated=True), (score.sigmoid(), (label, rand(n))), {"reduction_override": "sum"}
    # GaussianFocalLoss(pred, target) with keyword arguments, and 3.x's pos_weight (2.x: TypeError)
    heat, gauss = rand(2, c, 5, 5).clamp(0.01, 0.99), rand(2, c, 5, 5)
    gauss[0, 0, 2, 2] = 1.0
    gauss[1, c - 1, 1, 3] = 1.0
    gfl = {"type": "GaussianFocalLoss", "alpha": 2.0, "gamma": 4.0, "loss_weight": 1.5}
    yield gfl, (heat, gauss), {"weight": rand(2, c, 5, 5)}
    yield gfl, (heat, gauss), {"weight": rand(2, c, 5, 5), "avg_factor": avg}
    yield gfl, (heat, gauss), {"avg_factor": avg, "reduction_override": "mean"}
    yield gfl, (heat, gauss), {"reduction_override": "none"}
    yield gfl, (heat, gauss), {"weight": rand(2, c, 5, 5), "reduction_override": "sum"}
    yield dict(gfl, pos_weight=2.0), (heat, gauss), {}


def record(losses: Any, cfg: dict[str, Any], args: tuple[Any, ...], kw: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in kw.items() if v is not None or k == "weight"}
    params = {k: v for k, v in cfg.items() if k != "type"}
    result: dict[str, Any] = {
        "config": cfg,
        "args": [encode(a) for a in args],
        "kwargs": {k: encode(v) for k, v in kwargs.items()},
    }
    try:
        result["expected"] = encode(getattr(losses, cfg["type"])(**params)(*args, **kwargs))
    except Exception as e:  # the engine must raise the same
        result["error"] = type(e).__name__
    return result


def main() -> None:
    warnings.filterwarnings("ignore")
    if sys.argv[1] == "--v2":
        losses = load_mmdet2_losses(sys.argv[2])
        out = [record(losses, *case) for case in cases(random.Random(0)) if in_v2(losses, case[0], case[1])]
        out += [record(losses, *case) for case in cases_v2(random.Random(2))]
        version, path = "2.28.2", OUT_V2
    else:
        losses = load_mmdet_losses(sys.argv[1])
        out = [record(losses, *case) for case in cases(random.Random(0))]
        version, path = "3.3.0", OUT
    path.write_text(json.dumps({"mmdet": version, "cases": out}) + "\n")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()

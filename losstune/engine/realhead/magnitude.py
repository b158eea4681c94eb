"""How large the feature maps the heads receive are on the synthetic batch, and whether that is far
beyond what a trained network gives.

The run loads no pretrained weights (see :mod:`checkpoints`), so a backbone whose BatchNorm layers
stay in eval mode while the detector trains (``norm_eval=True``) normalises with their initial
statistics (mean 0, variance 1): they normalise nothing. ResNet's ``zero_init_residual`` keeps its
maps bounded; HRNet, Res2Net and DetectoRS' RFP have nothing that does, and their maps grow stage
after stage. Mean |x| of the finest map the heads receive on the seeded 128-pixel batch,
MMDetection 3.3.0:

- normalised: RetinaNet R-18 0.27, R-50 0.21, X-101 0.22, RegNetX-800MF 0.089, EfficientNet-B3
  0.79, PVT-T 2.95; GFL, FCOS, ATSS R-50 0.18 to 0.21; YOLOX-S 0.38, RTMDet-tiny 0.39, YOLOv3
  D-53 0.45, YOLOF R-50 1.8, SSD300 0.50, CenterNet R-18 0.39, DETR R-50 0.074; with
  ``norm_eval=False``, RetinaNet Res2Net-50 3.1, FCOS HRNetV2p-W18 5.3, Cascade R-CNN R-50-RFP 27;
- blown up: RetinaNet with a Res2Net-50 backbone 584 (its loss_cls 1.1e+3), with a Res2Net-101
  2.6e+7 (loss_cls 2.6e+8), Faster R-CNN Res2Net-101 2.3e+7, FCOS HRNetV2p-W18 2.2e+8 and W32
  1.2e+8, Faster R-CNN HRNetV2p-W18 8.8e+7, Cascade R-CNN R-50-RFP 3.4e+6.

:data:`LIMIT` sits between the largest normalised (27) and the smallest blown-up (584) map: the
head's terms on maps beyond it are right for the batch, but nothing like a training run's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

LIMIT = 100.0  # mean |x| of the finest feature map beyond which the maps are said to have blown up


@dataclass
class Features:
    """The feature maps the detector's heads received on the batch: mean |x| of each level as
    ``extract_feat`` returned them (``finest``: the index of the level of most positions), the
    BatchNorm layers that stayed in eval mode while the detector trained, and, for blown-up maps,
    the config keys (``model.backbone.norm_eval``) whose ``norm_eval=True`` keeps them there with
    the finest level's mean |x| once they are False (``normalised``; None: not measured)."""

    mean_abs: list[float] = field(default_factory=list)
    finest: int = 0
    frozen_norms: int = 0
    norm_eval: list[str] = field(default_factory=list)
    normalised: float | None = None
    inputs: tuple[tuple[Any, ...], dict[str, Any]] | None = field(default=None, repr=False)  # of extract_feat

    @property
    def finest_mean_abs(self) -> float | None:
        """Mean |x| of the finest level, None where no map was seen."""
        return self.mean_abs[self.finest] if self.mean_abs else None

    @property
    def blown_up(self) -> bool:
        """Whether the finest level is far beyond what a normalised network gives (see :data:`LIMIT`)."""
        finest = self.finest_mean_abs
        return finest is not None and not finest <= LIMIT  # NaN too

    @property
    def options(self) -> str | None:
        """The options (``--cfg-options KEY=False``, once per key) that bring the maps below
        :data:`LIMIT`, where measured to."""
        if not self.norm_eval or self.normalised is None or not self.normalised <= LIMIT:
            return None
        return " ".join(f"--cfg-options {key}=False" for key in self.norm_eval)

    def why(self) -> str:
        """Why the maps are that large, in words ("" when they are not)."""
        if not self.blown_up:
            return ""
        if not self.frozen_norms:
            return "the network is freshly initialised, no pretrained weights loaded"
        return (
            f"{self.frozen_norms} BatchNorm layers stay in eval mode (norm_eval=True) with their initial "
            "statistics, as no pretrained weights are loaded, so they normalise nothing"
        )

    def remedy(self) -> str:
        """What the user can do about blown-up maps, in words ("" when they are not)."""
        if not self.blown_up:
            return ""
        real = "evaluate the loss on inputs recorded in training with `eval --inputs`"
        if self.options is None:
            return real
        return f"run with `{self.options}` (the batch's own statistics: mean |x| {self.normalised:.3g} then), or {real}"


def _levels(output: Any) -> list[Any]:
    import torch

    if isinstance(output, torch.Tensor):
        output = [output]
    if not isinstance(output, (list, tuple)):
        return []
    return [x for x in output if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel()]


def _measure(output: Any) -> tuple[list[float], int]:
    """Mean |x| of each level of ``output``, and the index of the level of most positions."""
    import torch

    levels = _levels(output)
    with torch.no_grad():
        means = [float(x.detach().abs().float().mean()) for x in levels]
    sizes = [x.shape[-2:].numel() if x.dim() >= 2 else x.numel() for x in levels]
    return means, max(range(len(sizes)), key=lambda i: (sizes[i], -i)) if sizes else 0


@contextlib.contextmanager
def measuring_features(model: Any) -> Iterator[Features]:
    """While inside, the first output of ``model.extract_feat`` (the maps every head of the
    detector receives) is measured, level by level; the eval-mode norms are counted on entry."""
    seen = Features(frozen_norms=frozen_norms(model))
    original = getattr(model, "extract_feat", None)
    if original is None:
        yield seen
        return

    def extract_feat(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        if seen.inputs is None:
            seen.inputs = (args, kwargs)
            seen.mean_abs, seen.finest = _measure(output)
        return output

    model.extract_feat = extract_feat
    try:
        yield seen
    finally:
        del model.extract_feat


def frozen_norms(model: Any) -> int:
    """The BatchNorm layers of ``model`` (in train mode) that stay in eval mode."""
    from torch.nn.modules.batchnorm import _BatchNorm

    return sum(1 for m in model.modules() if isinstance(m, _BatchNorm) and not m.training)


def check_norm_eval(features: Features, model: Any, builds: Any, model_cfg: dict[str, Any]) -> None:
    """For blown-up maps, the config keys whose ``norm_eval=True`` keeps BatchNorm layers of
    ``model`` in eval mode (found through the config each part was built from, ``builds``), and
    the finest level's mean |x| with them False: ``extract_feat`` run again on its inputs, those
    parts' norms on the batch's statistics, as a model built with the keys False would be;
    the model's buffers and torch's generator are as they were after. The inputs kept for that
    rerun are let go either way."""
    try:
        _check_norm_eval(features, model, builds, model_cfg)
    finally:
        features.inputs = None


def _check_norm_eval(features: Features, model: Any, builds: Any, model_cfg: dict[str, Any]) -> None:
    if not features.blown_up or features.inputs is None:
        return
    parts = _norm_eval_parts(model)
    keys = [_config_key(name, part, builds, model_cfg) for name, part in parts]
    if not parts or None in keys:
        return
    features.norm_eval = list(dict.fromkeys(k for k in keys if k is not None))
    try:
        features.normalised = _normalised(model, [part for _, part in parts], features)
    except Exception:  # the maps are still said; only the option, unmeasured, is not suggested
        features.normalised = None


def _norm_eval_parts(model: Any) -> list[tuple[str, Any]]:
    """The outermost parts of ``model`` whose ``norm_eval`` is True, that hold a BatchNorm layer in
    eval mode, and whose class takes the key."""
    parts: list[tuple[str, Any]] = []
    for name, part in model.named_modules():
        if any(name.startswith(f"{outer}.") for outer, _ in parts):
            continue
        if getattr(part, "norm_eval", False) is True and frozen_norms(part) and _takes_norm_eval(type(part)):
            parts.append((name, part))
    return parts


def _config_key(name: str, part: Any, builds: Any, model_cfg: dict[str, Any]) -> str | None:
    """The config key of ``part`` (at ``name`` under the detector): where in ``model_cfg`` the config
    it was built from sits (``model.neck.rfp_backbone`` builds RFP's ``neck.rfp_modules.0``), else
    the detector's part of that name, else None."""
    built = builds.of(part)
    found = _find(model_cfg, built, "model") if isinstance(built, dict) else None
    if found is None and "." not in name and isinstance(model_cfg.get(name), dict):
        found = f"model.{name}"
    return f"{found}.norm_eval" if found is not None else None


def _find(tree: Any, wanted: dict[str, Any], key: str) -> str | None:
    if isinstance(tree, dict):
        if tree == wanted:
            return key
        items = list(tree.items())
    elif isinstance(tree, list):
        items = [(str(i), v) for i, v in enumerate(tree)]
    else:
        return None
    return next((k for k in (_find(v, wanted, f"{key}.{name}") for name, v in items) if k is not None), None)


def _normalised(model: Any, parts: list[Any], features: Features) -> float | None:
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    assert features.inputs is not None
    args, kwargs = features.inputs
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    buffers = [{k: v.clone() for k, v in m.named_buffers(recurse=False)} for m in norms]
    try:
        for part in parts:
            part.norm_eval = False
        model.train()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            means, finest = _measure(model.extract_feat(*args, **kwargs))
    finally:
        for part in parts:
            part.norm_eval = True
        model.train()
        for m, saved in zip(norms, buffers, strict=True):
            for k, v in saved.items():
                getattr(m, k).copy_(v)
    return means[finest] if means else None


def _takes_norm_eval(cls: type) -> bool:
    """Whether ``cls`` takes ``norm_eval`` as it is built (so the config key is accepted): by name,
    or through ``**kwargs`` handed on to a base class that does (Res2Net's to ResNet's)."""
    import inspect

    for c in cls.__mro__:
        if "__init__" not in vars(c):
            continue
        try:
            parameters = inspect.signature(vars(c)["__init__"]).parameters
        except (TypeError, ValueError):
            return False
        if "norm_eval" in parameters:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return False
    return False

"""``--plot``: the configured kernel against the predicted probability (classification) or the
error (regression), beside the same loss with its default parameters (matplotlib, an optional
extra)."""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import torch

from losstune.engine.evaluation import evaluate
from losstune.engine.inputs import InputError
from losstune.schema.catalogue import bare_type

PROBABILITY = ("FocalLoss", "QualityFocalLoss", "VarifocalLoss", "CrossEntropyLoss")
ERROR = ("L1Loss", "SmoothL1Loss", "BalancedL1Loss", "MSELoss")


def _elementwise(cfg: dict[str, Any], pred: torch.Tensor, target: Any) -> torch.Tensor:
    value: torch.Tensor = evaluate(cfg, pred, target, reduction_override="none").steps[0].value
    return value


def _kernel(cfg: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """The element-wise loss along ``x`` (a probability of the true class, or an error)."""
    kind = bare_type(str(cfg["type"]))
    n = len(x)
    if kind in ERROR:
        pred = x.view(-1, 1).repeat(1, 4)
        return _elementwise(cfg, pred, torch.zeros_like(pred))[:, 0]
    logits = torch.log(x / (1 - x)).view(-1, 1)
    if cfg.get("activated"):  # FocalLoss, QualityFocalLoss: the scores are probabilities already
        logits = x.view(-1, 1)
    if kind == "CrossEntropyLoss" and not cfg.get("use_sigmoid"):
        two = torch.cat([logits, torch.zeros_like(logits)], 1)  # softmax over (true, other): p = σ(logit)
        return _elementwise(cfg, two, torch.zeros(n, dtype=torch.long))
    if kind == "QualityFocalLoss":
        return _elementwise(cfg, logits, (torch.zeros(n, dtype=torch.long), torch.ones(n)))
    if kind in ("CrossEntropyLoss", "VarifocalLoss"):
        return _elementwise(cfg, logits, torch.ones_like(logits))[:, 0]
    return _elementwise(cfg, logits, torch.zeros(n, dtype=torch.long))[:, 0]


def _defaults(kind: str) -> dict[str, Any]:
    """The loss with its default parameters (sigmoid where the loss is only defined so)."""
    return {"type": kind} if kind in ERROR or kind == "CrossEntropyLoss" else {"type": kind, "use_sigmoid": True}


def plot_kernel(loss_cfg: dict[str, Any], out: str, title: str) -> None:
    """Write a PNG of the configured kernel and its reference curves to ``out``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'losstune[plot]'") from None
    kind = bare_type(str(loss_cfg.get("type")))
    # class weights scale each class's curve by its own factor; the plot draws the kernel itself
    dropped = ("_scope_", "loss_weight", "reduction", "class_weight", "ignore_index", "avg_non_ignore")
    cfg = {k: v for k, v in loss_cfg.items() if k not in dropped}
    if cfg.get("use_mask"):
        raise InputError("--plot draws classification and regression kernels; a mask loss (use_mask=True) is neither")
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    if kind in ERROR:
        x = torch.linspace(-3, 3, 601)
        ax.set_xlabel("error (prediction - target)")
        references: list[tuple[dict[str, Any], str]] = [(_defaults(kind), f"{kind}, defaults")]
    elif kind in PROBABILITY:
        x = torch.linspace(1e-3, 1 - 1e-3, 500)
        ax.set_xlabel("predicted probability of the true class")
        if kind == "FocalLoss":  # as in the focal loss paper's figure
            references = [({"type": kind, "gamma": g, "alpha": 1.0}, f"γ = {g:g}") for g in (0, 0.5, 1, 2, 5)]
            cfg_label = f"configured: γ = {cfg.get('gamma', 2.0):g}, α = {cfg.get('alpha', 0.25):g}"
        else:
            references = [(_defaults(kind), f"{kind}, defaults")]
    else:
        plt.close(fig)
        raise InputError(f"--plot draws classification and regression kernels; `{kind}` is neither")
    try:
        curves = [(_kernel(ref, x), label) for ref, label in references]
        configured = _kernel(cfg, x)
    except (RuntimeError, ValueError, AssertionError, TypeError) as e:
        plt.close(fig)
        raise InputError(f"--plot cannot draw this {kind}: {type(e).__name__}: {e}") from None
    for curve, label in curves:
        ax.plot(x.numpy(), curve.detach().numpy(), linewidth=1.0, alpha=0.6, label=label)
    label = cfg_label if kind == "FocalLoss" else "configured"
    if "class_weight" in loss_cfg:
        label += " (class_weight not drawn)"
    ax.plot(x.numpy(), configured.detach().numpy(), color="black", linewidth=2.2, label=label)
    ax.set_ylabel("element-wise loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if kind in PROBABILITY:
        top = float(_kernel(_defaults(kind), x[:1]).max())
        ax.set_ylim(0, max(math.ceil(top), 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=os.path.dirname(os.path.abspath(out)))
    try:
        umask = os.umask(0)  # read it: a new file is made with the user's umask, not mkstemp's 0600
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png")
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(fig)

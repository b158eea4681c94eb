"""``--plot``: the configured kernel against the predicted probability (classification), the error
(regression) or the IoU (box losses), beside the same loss with its default parameters, and in a
second panel its derivative with respect to that input, by torch autograd on the same points
(matplotlib, an optional extra)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from losstune.engine.evaluation import evaluate
from losstune.engine.inputs import BOXES, InputError
from losstune.outfile import write_whole
from losstune.schema.catalogue import bare_type

PROBABILITY = ("FocalLoss", "QualityFocalLoss", "VarifocalLoss", "CrossEntropyLoss")
ERROR = ("L1Loss", "SmoothL1Loss", "BalancedL1Loss", "MSELoss")
# What the kernel is drawn from, not how it is weighted or reduced: these are left out.
_NOT_DRAWN = ("_scope_", "loss_weight", "reduction", "class_weight", "ignore_index", "avg_non_ignore")
_GREEK = {"gamma": "γ", "alpha": "α"}
PROBABILITY_AXIS = "predicted probability of the true class"


@dataclass
class PlotSpec:
    """What the plot of a loss draws: the axis, the reference curves (each a loss config and its
    label) and the configured loss's label; ``cfg`` is the configured loss as drawn, ``dlabel``
    the gradient panel's axis and ``wrt`` the input the derivative is taken with respect to."""

    cfg: dict[str, Any]
    xlabel: str
    dlabel: str
    wrt: str
    x: torch.Tensor
    references: list[tuple[dict[str, Any], str]]
    configured_label: str


def _elementwise(cfg: dict[str, Any], pred: torch.Tensor, target: Any) -> torch.Tensor:
    value: torch.Tensor = evaluate(cfg, pred, target, reduction_override="none").steps[0].value
    return value


def _shifted_boxes(iou: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A unit box, and the same box shifted sideways by ``d`` so that their IoU is ``iou``:
    (1 - d) / (1 + d) = iou."""
    d = (1 - iou) / (1 + iou)
    target = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(len(iou), 1)
    pred = target + torch.stack([d, torch.zeros_like(d), d, torch.zeros_like(d)], 1)
    return pred, target


def _kernel(cfg: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """The element-wise loss along ``x`` (a probability of the true class, an error, or an IoU)."""
    kind = bare_type(str(cfg["type"]))
    n = len(x)
    if kind in ERROR:
        pred = x.view(-1, 1).repeat(1, 4)
        return _elementwise(cfg, pred, torch.zeros_like(pred))[:, 0]
    if kind in BOXES:
        loss = _elementwise(cfg, *_shifted_boxes(x))
        return loss if loss.dim() == 1 else loss.sum(1)  # BoundedIoULoss: one term per side
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


def _gradient(cfg: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """d loss / d x at each point of ``x``, by autograd through the kernel (each point's loss
    depends on its own ``x`` only, so the gradient of their sum is the derivative at each)."""
    with torch.enable_grad():
        at = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_kernel(cfg, at).sum(), at, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad.detach()


def _defaults(kind: str) -> dict[str, Any]:
    """The loss with its default parameters (sigmoid where the loss is only defined so)."""
    plain = kind in ERROR or kind in BOXES or kind == "CrossEntropyLoss"
    return {"type": kind} if plain else {"type": kind, "use_sigmoid": True}


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def _params(cfg: dict[str, Any], skip: tuple[str, ...] = ("type", "use_sigmoid")) -> str:
    """``γ = 2, α = 0.25``: the parameters a curve is drawn with."""
    return ", ".join(f"{_GREEK.get(k, k)} = {_shown(v)}" for k, v in cfg.items() if k not in skip)


def drawn_with(loss_cfg: dict[str, Any]) -> str:
    """The parameters the kernel of ``loss_cfg`` is drawn with (``defaults`` when none is set;
    FocalLoss's γ and α always)."""
    kind = bare_type(str(loss_cfg.get("type")))
    cfg = {k: v for k, v in loss_cfg.items() if k not in _NOT_DRAWN}
    if kind == "FocalLoss":
        shown = {"gamma": cfg.get("gamma", 2.0), "alpha": cfg.get("alpha", 0.25)}
        return _params(shown | cfg, skip=("type", "use_sigmoid", "activated"))
    return _params(cfg) or "defaults"


def plot_spec(loss_cfg: dict[str, Any]) -> PlotSpec:
    """What the plot of ``loss_cfg`` draws; ``InputError`` for a loss it cannot draw."""
    kind = bare_type(str(loss_cfg.get("type")))
    cfg = {k: v for k, v in loss_cfg.items() if k not in _NOT_DRAWN}
    if cfg.get("use_mask"):
        raise InputError(
            "--plot draws classification, regression and IoU kernels; a mask loss (use_mask=True) is none of them"
        )
    references = [(_defaults(kind), f"{kind}, defaults")]
    configured = f"configured: {drawn_with(loss_cfg)}"
    if kind in ERROR:
        x = torch.linspace(-3, 3, 601)
        wrt = "the error: the prediction moved, the target fixed"
        return PlotSpec(cfg, "error (prediction - target)", "d loss / d error", wrt, x, references, configured)
    if kind in BOXES:
        xlabel = "IoU of the prediction with its target (the same box, shifted sideways)"
        # Up to just below 1: at IoU = 1 the boxes coincide, where the IoU has a kink in the shift
        # and autograd's subgradient there (0) is no derivative of the loss.
        wrt, x = "the IoU: the box moved along its sideways shift", torch.linspace(0.02, 0.995, 488)
        return PlotSpec(cfg, xlabel, "d loss / d IoU", wrt, x, references, configured)
    if kind not in PROBABILITY:
        raise InputError(f"--plot draws classification, regression and IoU kernels; `{kind}` is none of them")
    if kind == "FocalLoss":  # as in the focal loss paper's figure 1: α = 1, γ from 0 to 5
        references = [({"type": kind, "gamma": g, "alpha": 1.0}, f"γ = {g:g}, α = 1") for g in (0, 0.5, 1, 2, 5)]
    x = torch.linspace(1e-3, 1 - 1e-3, 500)
    wrt = "p, the predicted probability of the true class"
    return PlotSpec(cfg, PROBABILITY_AXIS, "d loss / d p", wrt, x, references, configured)


def plot_kernel(losses: dict[str, Any] | list[tuple[str, dict[str, Any]]], out: str, title: str) -> None:
    """Write a PNG of the configured kernel and its reference curves, with their gradients, to
    ``out``; or, given several losses (each with the name of its config), one curve for each."""
    fig = _figure(losses, title)
    import matplotlib.pyplot as plt

    try:
        _save(fig, out)
    finally:
        plt.close(fig)


GRADIENT_FLOOR = -10.0
"""The lowest gradient drawn for a classification loss: d loss / d p runs to -1/p near p = 0."""


def _figure(losses: dict[str, Any] | list[tuple[str, dict[str, Any]]], title: str) -> Any:
    """The figure: the element-wise loss on the left, its gradient on the right, on the same points;
    for one loss, a curve per reference and the configured loss in black; for several (each named
    by its config), one curve each, labelled with that name and the parameters."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'losstune[plot]'") from None
    if isinstance(losses, dict):
        loss_cfg = losses
        spec = plot_spec(loss_cfg)
        label = spec.configured_label + _not_drawn(loss_cfg)
        styles: list[dict[str, Any]] = [{"linewidth": 1.0, "alpha": 0.6} for _ in spec.references]
        styles.append({"color": "black", "linewidth": 2.2})
        drawn = [*spec.references, (spec.cfg, label)]
    else:
        spec, drawn = _overlay(losses)
        loss_cfg = losses[0][1]
        styles = [{"linewidth": 1.8} for _ in drawn]
    kind = bare_type(str(loss_cfg.get("type")))
    x = spec.x
    try:
        curves = [(_kernel(cfg, x).detach(), _gradient(cfg, x), text) for cfg, text in drawn]
    except (RuntimeError, ValueError, AssertionError, TypeError) as e:
        raise InputError(f"--plot cannot draw this {kind}: {type(e).__name__}: {e}") from None
    fig, (loss_ax, grad_ax) = plt.subplots(1, 2, figsize=(12.0, 4.6), dpi=110)
    try:
        for (loss, grad, text), style in zip(curves, styles, strict=True):
            loss_ax.plot(x.numpy(), loss.numpy(), label=text, **style)
            grad_ax.plot(x.numpy(), grad.numpy(), label=text, **style)
        loss_ax.set_ylabel("element-wise loss")
        grad_ax.set_ylabel(spec.dlabel)
        grad_ax.set_title(f"gradient with respect to {spec.wrt}\n(torch autograd, on the same points)", fontsize=9)
        for ax in (loss_ax, grad_ax):
            ax.set_xlabel(spec.xlabel)
            ax.grid(alpha=0.3)
        grad_ax.axhline(0.0, color="grey", linewidth=0.6)
        if spec.xlabel == PROBABILITY_AXIS:
            top = max(float(_kernel(_defaults(bare_type(str(c["type"]))), x[:1]).max()) for c, _ in drawn)
            loss_ax.set_ylim(0, max(math.ceil(top), 1))
            low = min(float(grad.min()) for _, grad, _ in curves)
            high = max(float(grad.max()) for _, grad, _ in curves)
            grad_ax.set_ylim(max(low, GRADIENT_FLOOR) * 1.05, max(high, 0.0) + 0.5)
        loss_ax.legend(fontsize=8)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _not_drawn(loss_cfg: dict[str, Any]) -> str:
    return " (class_weight not drawn)" if "class_weight" in loss_cfg else ""


class PlotMismatch(InputError):
    """Losses of several configs that cannot share one plot; ``index``: the one that differs."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _overlay(losses: list[tuple[str, dict[str, Any]]]) -> tuple[PlotSpec, list[tuple[dict[str, Any], str]]]:
    """The axis the losses share (that of the first) and a curve per config; ``PlotMismatch``
    naming the config whose loss is drawn against another axis."""
    first_name, first = losses[0]
    spec = plot_spec(first)
    drawn = []
    for index, (name, loss_cfg) in enumerate(losses):
        try:
            own = plot_spec(loss_cfg)
        except InputError as e:
            raise PlotMismatch(index, str(e)) from None
        if own.xlabel != spec.xlabel:
            raise PlotMismatch(
                index,
                f"its {loss_cfg.get('type')} is drawn against the {own.xlabel}, and {first_name}'s "
                f"{first.get('type')} against the {spec.xlabel}: plot them apart",
            )
        drawn.append((own.cfg, f"{name}: {drawn_with(loss_cfg)}{_not_drawn(loss_cfg)}"))
    return spec, drawn


def _save(fig: Any, out: str) -> None:
    """Write the figure to ``out`` whole (:func:`~losstune.outfile.write_whole`)."""
    write_whole(out, lambda f: fig.savefig(f, format="png"))

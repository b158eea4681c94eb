"""The phases of a head's training, selected by the epoch: a head family that feeds its losses one
way for its first epochs and another way after (TOODHead: ATSS's positives and ``initial_loss_cls``
while the epoch is below ``train_cfg.initial_epoch``, then the task-aligned assignment) has a
:class:`Phases` entry here, each phase with the rules it feeds its losses by over the family's and
the losses it does not call. The epoch is what mmengine's ``MessageHub`` holds as ``epoch`` (0 as
a run starts; MMDetection 2.x's ``SetEpochInfoHook`` sets the same)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from losstune.engine.confignum import config_int
from losstune.engine.headmodel import RULES, Rule
from losstune.schema.catalogue import bare_type


@dataclass(frozen=True)
class Phase:
    """One phase of a head's training: its ``name``, the ``rules`` it feeds its losses by (over
    the family's), the losses it does not call (``idle``: each with the loss whose module makes its
    log term in this phase), the ``train_cfg`` key of the assigner it assigns with, and what it
    does, in words (``{assigner}``: that assigner's type, in parentheses, where the config sets it)."""

    name: str
    what: str
    rules: dict[str, Rule] = field(default_factory=dict)
    idle: dict[str, str] = field(default_factory=dict)
    assigner: str = "assigner"


@dataclass(frozen=True)
class Phases:
    """A family's phases in training order: each of ``early`` while the epoch is below the
    ``train_cfg`` key paired with it, then ``last``."""

    early: tuple[tuple[str, Phase], ...]
    last: Phase


@dataclass(frozen=True)
class At:
    """The phase a head is in at ``epoch``, how the config's ``train_cfg`` selects it (``text``,
    which begins with ``when``: the epoch and the bound it is under, ``epoch 0, before
    train_cfg.initial_epoch = 4``), and an epoch of each other phase with its name (to say how to
    model those)."""

    phase: Phase
    epoch: int
    when: str
    text: str
    others: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        """The phase and how the config selects it, then how to model the others."""
        hint = self.hint()
        return f"{self.text}; {hint}" if hint else self.text

    def hint(self) -> str:
        """How to model the other phases: ``--epoch 4 models the task-aligned phase``."""
        return "; ".join(f"--epoch {epoch} models the {name} phase" for name, epoch in self.others)


# TOODHead.loss_by_feat_single and get_targets (MMDetection 3.3.0): while epoch < initial_epoch the
# targets are ATSSHead's (_get_targets_single with initial_assigner), initial_loss_cls is called on
# the labels with avg_factor=1.0 and divided by the sum of the bbox weights' first column (1 at
# each positive); the box loss is weighted by the centerness targets and divided by their sum, as
# ATSSHead's is
_TOOD_INITIAL = Phase(
    "initial",
    "the positives of train_cfg.initial_assigner{assigner}, initial_loss_cls in place of loss_cls on the "
    "labels, loss_bbox weighted by the centerness targets",
    rules={
        "initial_loss_cls": Rule(
            avg="constant",
            after="positives",
            after_what="the sum of the bbox weights' first column, 1 at each positive",
            log_name="loss_cls",
        ),
        "loss_bbox": RULES["ATSSHead"]["loss_bbox"],
    },
    idle={"loss_cls": "initial_loss_cls"},
    assigner="initial_assigner",
)
_TOOD_ALIGNED = Phase(
    "task-aligned",
    "the positives of train_cfg.assigner{assigner}, loss_cls on the labels and the normalised alignment "
    "metrics, loss_bbox weighted by those metrics",
    idle={"initial_loss_cls": "loss_cls"},
)

PHASES: dict[str, Phases] = {"TOODHead": Phases((("initial_epoch", _TOOD_INITIAL),), _TOOD_ALIGNED)}


def _train_cfg(model: dict[str, Any]) -> dict[str, Any]:
    train = model.get("train_cfg")
    return train if isinstance(train, dict) else {}


def phase_at(family: str | None, model: dict[str, Any], epoch: int) -> At | None:
    """The phase ``family``'s head is in at ``epoch`` under the ``model`` config's ``train_cfg``;
    ``None`` for a family whose losses are fed alike at every epoch."""
    phases = PHASES.get(family or "")
    if phases is None:
        return None
    train = _train_cfg(model)
    starts: list[tuple[Phase, int, str]] = []  # each phase that has epochs, the first of them, and why
    start, chosen, read = 0, None, []
    for key, phase in phases.early:
        bound = config_int(train, key, None)
        if bound is None:  # MMDetection's head reads the key (KeyError without it): no epochs of its own
            continue
        read.append(f"train_cfg.{key} = {bound}")
        if bound > start:
            starts.append((phase, start, f"before train_cfg.{key} = {bound}"))
            start = bound
            if chosen is None and epoch < bound:
                chosen = len(starts) - 1
    starts.append((phases.last, start, f"from {read[-1]} on" if read else "at every epoch"))
    index = chosen if chosen is not None else len(starts) - 1
    phase, _, why = starts[index]
    assigner = train.get(phase.assigner)
    kind = assigner.get("type") if isinstance(assigner, dict) else None
    kind = f" ({bare_type(kind)})" if isinstance(kind, str) else ""
    who = family or "the head"
    when = f"epoch {epoch}, {why}"
    text = f"{when}: {who}'s {phase.name} phase: {phase.what.format(assigner=kind)}"
    missing = [key for key, _ in phases.early if config_int(train, key, None) is None]
    if missing:
        text += f"; train_cfg sets no {', '.join(missing)} (an int), which {who} reads"
    others = tuple((p.name, first) for i, (p, first, _) in enumerate(starts) if i != index)
    return At(phase, epoch, when, text, others)


def idle_message(at: At, key: str, name: str) -> str | None:
    """Why the loss at ``key`` (named ``name`` in its head) is not evaluated at ``at``'s epoch: its
    head does not call it in that phase; ``None`` where it does."""
    instead = at.phase.idle.get(name)
    if instead is None:
        return None
    other = f"{key[: -len(name)]}{instead}" if key.endswith(name) else instead
    log = at.phase.rules.get(instead, Rule()).log_name or instead
    hint = at.hint()
    return (
        f"{key} is not called at {at.when}: the head's {at.phase.name} phase makes the log's "
        f"{log} with {other} instead" + (f"; {hint}" if hint else "")
    )


__all__ = ["PHASES", "At", "Phase", "Phases", "idle_message", "phase_at"]

"""Heads of MMDetection 3.3.0 whose log's terms are not loss modules' outputs: the head computes
them itself (FreeAnchor's bag losses, AutoAssign's positive, negative and centre losses), using its
configured loss modules, if at all, inside that computation. Both heads' terms are modelled
(:mod:`losstune.engine.heads_freeanchor`, :mod:`losstune.engine.heads_autoassign`); ``eval`` and
``explain`` give them on the model's batch (:mod:`losstune.engine.ownmodel`), each loss the head
calls shown with the term it enters, and the terms no loss module enters beside it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OwnTerms:
    """A head's own terms, the term each of its loss modules enters (by key: how, in words), and
    the losses of its config it never calls."""

    terms: tuple[str, ...]
    enters: dict[str, tuple[str, str]]  # loss key -> (the term, how it enters it)
    never: tuple[str, ...]


OWN: dict[str, OwnTerms] = {
    "FreeAnchorRetinaHead": OwnTerms(
        ("positive_bag_loss", "negative_bag_loss"),
        # reduction_override='none' on each box's pre_anchor_topk anchors; exp(-loss) is their box probability
        {"loss_bbox": ("positive_bag_loss", "per anchor")},
        ("loss_cls",),
    ),
    "AutoAssignHead": OwnTerms(
        ("loss_pos", "loss_neg", "loss_center"),
        # reduction_override='none' on every point and box; exp(-loss) is the point's box probability
        {"loss_bbox": ("loss_pos", "per point and box")},
        ("loss_cls", "loss_centerness"),
    ),
}


def entered(head_type: str, loss_name: str) -> str | None:
    """The term of ``head_type``'s log that its loss ``loss_name`` enters, where the head's terms
    are its own code and the loss enters one (``None`` otherwise)."""
    own = OWN.get(head_type)
    found = own.enters.get(loss_name) if own is not None else None
    return found[0] if found is not None else None


def enters_text(head_type: str) -> str:
    """Which of ``head_type``'s loss modules enter which of its terms, in words (``loss_bbox
    enters positive_bag_loss per anchor``)."""
    own = OWN[head_type]
    return "; ".join(f"{loss} enters {term} {how}" for loss, (term, how) in own.enters.items())


def not_modelled(head_type: str, loss_name: str) -> str | None:
    """Why ``loss_name`` of ``head_type`` makes no term of its log (the head never calls it), or
    ``None`` where the head's terms are its loss modules' outputs or the loss enters one of its own."""
    own = OWN.get(head_type)
    if own is None or loss_name in own.enters:
        return None
    terms = ", ".join(own.terms)
    use = f"{loss_name} is never called" if loss_name in own.never else f"no term is {loss_name}'s"
    return f"{head_type}'s log terms ({terms}) are its own, not loss modules' outputs; {use} ({enters_text(head_type)})"


def term_hint(head_type: str, head_key: str, term: str) -> str | None:
    """What to ask for to see ``term``, where it is one of ``head_type``'s own terms (the head at
    ``head_key``): the loss that enters it, or that none does (``None`` for any other name)."""
    own = OWN.get(head_type)
    if own is None or term not in own.terms:
        return None
    loss = next((name for name, (t, _) in own.enters.items() if t == term), None)
    first = next(iter(own.enters))
    if loss is not None:
        made = f"{loss} enters it: `--loss {head_key}.{loss}` gives it"
    else:
        made = f"no loss module enters it: `--loss {head_key}.{first}` gives it beside {own.enters[first][0]}"
    return f"{term} is a term of {head_type}'s own code at {head_key}, not a loss of the config; {made}"

"""Heads of MMDetection 3.3.0 whose log's terms are not loss modules' outputs: the head computes
them itself (FreeAnchor's bag losses, AutoAssign's positive, negative and centre losses), using its
configured loss modules, if at all, inside that computation. ``eval`` and ``explain`` do not give
them: they name the terms and say what the head does with each configured loss instead.
Both heads' terms are modelled (:mod:`losstune.engine.heads_freeanchor`,
:mod:`losstune.engine.heads_autoassign`) for the comparison with the real head only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OwnTerms:
    """A head's own terms, and what it does with each loss of its config (by key)."""

    terms: tuple[str, ...]
    uses: dict[str, str]


OWN: dict[str, OwnTerms] = {
    "FreeAnchorRetinaHead": OwnTerms(
        ("positive_bag_loss", "negative_bag_loss"),
        {
            # reduction_override='none' on each box's pre_anchor_topk anchors; exp(-loss) is their box probability
            "loss_bbox": "loss_bbox enters positive_bag_loss per anchor",
            "loss_cls": "loss_cls is never called",
        },
    ),
    "AutoAssignHead": OwnTerms(
        ("loss_pos", "loss_neg", "loss_center"),
        {
            # reduction_override='none' on every point and box; exp(-loss) is the point's box probability
            "loss_bbox": "loss_bbox enters loss_pos per point and box",
            "loss_cls": "loss_cls is never called",
            "loss_centerness": "loss_centerness is never called",
        },
    ),
}


def not_modelled(head_type: str, loss_name: str) -> str | None:
    """Why the head model cannot give ``loss_name``'s term in ``head_type``'s log, or ``None``
    where the head's terms are its loss modules' outputs."""
    own = OWN.get(head_type)
    if own is None:
        return None
    terms = ", ".join(own.terms)
    use = own.uses.get(loss_name, f"no term is {loss_name}'s")
    return f"{head_type}'s log terms ({terms}) are its own, not loss modules' outputs; losstune does not model them ({use})"

"""The head model of a head whose log's terms are its own code (:data:`~losstune.engine.heads_own.OWN`):
the call of the loss module that enters one of its terms, made as the head makes it on the model's
seeded image (:func:`~losstune.engine.heads_freeanchor.model_batch`,
:func:`~losstune.engine.heads_autoassign.model_batch`: :data:`~losstune.engine.headmodel.NUM_GTS`
boxes, the dense head's priors unless ``--num-priors`` sets them), and every term of the head
computed from that call's element-wise result, each with how it arises in one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from losstune.engine import heads_autoassign as aa
from losstune.engine import heads_freeanchor as fa
from losstune.engine.headmodel import NUM_GTS, Feed
from losstune.engine.heads_own import entered
from losstune.engine.inputs import InputError, Inputs, OtherCalls
from losstune.engine.makers import Own
from losstune.words import count


@dataclass(frozen=True)
class OwnTerm:
    """One term of the head's log: its value, how the head makes it (one line: the loss module that
    enters it, or that none does; the sum and what it is divided by), and the loss of the config
    (its key in the head) that enters it (``None``: none does)."""

    name: str
    value: float
    how: str
    loss: str | None = None


@dataclass
class HeadTerms(OtherCalls):
    """No further call of the module: ``combine`` makes the head's terms of the call's element-wise
    result, keeps them all in ``made`` and gives the one the loss enters."""

    made: list[OwnTerm] = field(default_factory=list)


@dataclass(frozen=True)
class OwnCall:
    """The call of the loss module the head makes on the model's image (its arguments, step 1's
    text and counts), the term it enters, the predictions of the image in words, and the head's
    terms made of the call's element-wise result (``terms``)."""

    args: list[Tensor]
    kwargs: dict[str, Any]
    sampling: str
    stats: dict[str, Any]
    term: str
    shape: str
    terms: Callable[[Tensor], list[OwnTerm]]


def _ratio(total: float, by: float) -> str:
    return f"{total:.6g} ÷ {by:g}"


def _free_anchor(ask: Own) -> OwnCall:
    """FreeAnchorRetinaHead's ``loss_bbox`` on each box's bag, and its two bag terms."""
    head = fa.FREE_ANCHOR
    p = fa.bag_params(ask.head)
    priors = ask.num_priors or ask.default_priors
    if priors < p.pre_anchor_topk:
        raise InputError(
            f"{head} takes each box's bag of pre_anchor_topk = {p.pre_anchor_topk} anchors (torch.topk), and "
            f"{count(priors, 'anchor', 'anchors')} are fewer (MMDetection fails alike): give --num-priors "
            f"{p.pre_anchor_topk} or more"
        )
    batch = fa.model_batch(priors, NUM_GTS, ask.num_classes, ask.seed)
    _, pred, target = fa.bags(batch.deltas[0], batch.anchors, batch.boxes, p)
    bag = f"{NUM_GTS} × {p.pre_anchor_topk}"
    sampling = (
        f"{head} uses no sampler: each box's bag is its pre_anchor_topk = {p.pre_anchor_topk} anchors of highest "
        f"IoU with it, of the {priors}; the head hands {ask.loss_name} the {NUM_GTS} bags' predicted deltas against "
        f"the box encoded on each anchor ({bag} × 4), reduction_override='none'; no avg_factor"
    )

    def terms(loss: Tensor) -> list[OwnTerm]:
        t = batch.terms(lambda got, _: loss.reshape(got.shape), p)
        positive = (
            f"{head}'s own code, {ask.loss_name} enters it per anchor: P_loc = exp(-Σ {ask.loss_name} over the "
            f"anchor's 4 deltas), P_cls its sigmoid score of the box's class; per box alpha={p.alpha:g} × "
            f"-log(mean-max(P_cls × P_loc)) (a mean weighted by 1 / (1 - P)), summed over the {t.boxes} boxes "
            f"÷ max(1, boxes) = {_ratio(t.positive_sum, t.positive_divisor)}"
        )
        negative = (
            f"{head}'s own code, no loss module enters it: (1 - alpha) × p^gamma × -log(1 - p), alpha={p.alpha:g}, "
            f"gamma={p.gamma:g}, p = P_cls × (1 - box_prob) (box_prob: the decoded boxes' IoUs with the boxes of "
            f"that class rescaled above bbox_thr={p.bbox_thr:g}), on every anchor and class ({t.rows} × "
            f"{t.width}), summed ÷ max(1, boxes × pre_anchor_topk) = "
            f"{_ratio(t.negative_sum, t.negative_divisor)}"
        )
        return [
            OwnTerm("positive_bag_loss", t.positive, positive, ask.loss_name),
            OwnTerm("negative_bag_loss", t.negative, negative),
        ]

    stats = {"boxes": NUM_GTS, "priors": priors, "pre_anchor_topk": p.pre_anchor_topk, "avg_factor": None}
    shape = f"{count(priors, 'anchor', 'anchors')}, {count(NUM_GTS, 'box', 'boxes')}"
    return OwnCall([pred, target], {"reduction_override": "none"}, sampling, stats, "positive_bag_loss", shape, terms)


def _auto_assign(ask: Own) -> OwnCall:
    """AutoAssignHead's ``loss_bbox`` on every point and box, and its three terms."""
    head = aa.AUTO_ASSIGN
    p = aa.auto_params(ask.head)
    points = ask.num_priors or ask.default_priors
    strides = aa.strides_of(ask.head)
    batch = aa.model_batch(points, NUM_GTS, ask.num_classes, strides, ask.seed)
    pred, target = aa.box_pairs(batch.points, batch.distances[0], batch.boxes)
    sampling = (
        f"{head} uses no sampler: it hands {ask.loss_name} every point's box, decoded from its distances to the "
        f"sides, against every box ({points} points × {NUM_GTS} boxes = {pred.shape[0]} rows), "
        "reduction_override='none'; no avg_factor"
    )

    def terms(loss: Tensor) -> list[OwnTerm]:
        t = batch.terms(lambda *_: loss.reshape(-1), p)
        pos = (
            f"{head}'s own code, {ask.loss_name} enters it per point and box: p_pos = P_cls × P_obj × "
            f"exp(-{ask.loss_name}), weighted by the center prior × exp(3 p_pos) normalised over the points; "
            f"pos_loss_weight={p.pos_loss_weight:g} × Σ BCE(Σ p_pos × w, 1) over the {t.boxes} boxes ÷ "
            f"max(boxes, 1) = {_ratio(t.pos_sum, t.pos_divisor)}"
        )
        neg = (
            f"{head}'s own code, no loss module enters it: neg_loss_weight={p.neg_loss_weight:g} × Σ q² × "
            f"-log(1 - q) on every point and class ({t.rows} × {t.width}), q = P_cls × P_obj, inside a box × (1 - "
            "the normalised 1 / (1 - IoU) of the point's best predicted box); summed ÷ max(Σ center prior, 1) = "
            f"{_ratio(t.neg_sum, t.neg_divisor)}"
        )
        center = (
            f"{head}'s own code, no loss module enters it: center_loss_weight={p.center_loss_weight:g} × boxes / "
            f"Σ center prior of each image, the mean over the images = {_ratio(t.center_sum, t.center_divisor)}"
        )
        return [
            OwnTerm("loss_pos", t.loss_pos, pos, ask.loss_name),
            OwnTerm("loss_neg", t.loss_neg, neg),
            OwnTerm("loss_center", t.loss_center, center),
        ]

    stats = {"boxes": NUM_GTS, "priors": points, "avg_factor": None}
    shape = f"{count(points, 'point', 'points')}, {count(NUM_GTS, 'box', 'boxes')}"
    return OwnCall([pred, target], {"reduction_override": "none"}, sampling, stats, "loss_pos", shape, terms)


MODELS: dict[str, Callable[[Own], OwnCall]] = {fa.FREE_ANCHOR: _free_anchor, aa.AUTO_ASSIGN: _auto_assign}


def own_feed(head_type: str, ask: Own) -> tuple[Feed, str]:
    """The feed of ``ask``'s loss under ``head_type``, a head whose log's terms are its own: the
    module's call as the head makes it on the model's image, the term it enters (the head step
    makes it of the module's result, and every other term of the head beside it), and the inputs
    in words."""
    term = entered(head_type, ask.loss_name)
    assert term is not None, f"{ask.loss_name} enters no term of {head_type}"
    call = MODELS[head_type](ask)

    def combine(results: list[Any], _: float) -> tuple[Tensor, str]:
        made = call.terms(results[0].detach().cpu())
        others.made[:] = made
        mine = next(t for t in made if t.name == call.term)
        return torch.tensor(mine.value), mine.how

    others = HeadTerms([], combine)
    inputs = Inputs(list(call.args), dict(call.kwargs), None, call.sampling, None, others)
    fed = Feed(inputs, call.sampling, call.stats, log_name=term, family=head_type, log_names=[term])
    classes = count(ask.num_classes, "class", "classes")
    return fed, f"synthetic, seed {ask.seed}, {call.shape}, {classes}"


def own_terms(inputs: Inputs | None) -> list[OwnTerm]:
    """Every term of a head whose log's terms are its own, as the head step made them on ``inputs``
    (none for any other inputs)."""
    others = inputs.others if inputs is not None else None
    return list(others.made) if isinstance(others, HeadTerms) else []


__all__ = ["OwnTerm", "own_feed", "own_terms"]

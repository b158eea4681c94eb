"""Step 1, sampling: a synthetic, seeded assignment of priors, sampled the way MMDetection 3.x's
samplers and heads do it, giving the labels, label weights, box weights and avg_factor that a head
passes to its losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losstune.schema.catalogue import bare_type

NEEDS_PREDICTIONS = ("OHEMSampler", "ScoreHLRSampler")
NUM_GTS = 8  # ground-truth boxes of the sample image
SIMULATED = ("PseudoSampler", "RandomSampler", "InstanceBalancedPosSampler", "IoUBalancedNegSampler", "CombinedSampler")


@dataclass(frozen=True)
class PriorBoxes:
    """Every prior's predicted box and its target (``(N, 4)``, x1 y1 x2 y2; a negative's target
    zeros) and the box each is assigned to (``-1``: none), where an assignment was computed on
    the boxes themselves (RTMDet-Ins')."""

    pred: Tensor
    target: Tensor
    gt_index: Tensor


@dataclass
class Sampled:
    """What the head gives its losses for one image."""

    labels: Tensor  # (N,) class of each sampled prior; num_classes for background
    label_weights: Tensor  # (N,)
    bbox_weights: Tensor  # (N, 4), 1 for positives
    ious: Tensor  # (N,) IoU of each prior with its assigned box
    pos_mask: Tensor  # (N,)
    avg_factor: float  # SamplingResult.avg_factor, summed over the images
    description: str  # how the priors were assigned and sampled (the counts)
    stats: dict[str, Any]
    avg_rule: str = "max(positives, 1)"  # how ``avg_factor`` is counted, in MMDetection's terms
    boxes: PriorBoxes | None = None  # the predicted boxes the assignment was computed on, where it was


def _assignment(
    num_priors: int, num_gts: int, num_classes: int, g: torch.Generator, roi_head: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """gt index per prior (0 negative, -1 ignored, k > 0 matched to box k), IoUs and gt labels,
    from a max-IoU assigner with thresholds 0.5 / 0.4. IoUs are skewed towards low overlap: about
    1% of a dense head's anchors reach 0.5, and about 16% of an RoI head's proposals."""
    ious = torch.rand(num_priors, generator=g) ** (4 if roi_head else 60)
    gt_inds = torch.zeros(num_priors, dtype=torch.long)
    pos = ious >= 0.5
    gt_inds[pos] = torch.randint(1, num_gts + 1, (int(pos.sum()),), generator=g)
    gt_inds[(ious >= 0.4) & ~pos] = -1
    gt_labels = torch.randint(0, num_classes, (num_gts,), generator=g)
    return gt_inds, ious, gt_labels


def _choose(candidates: Tensor, k: int, g: torch.Generator) -> Tensor:
    if candidates.numel() <= k:
        return candidates
    return candidates[torch.randperm(candidates.numel(), generator=g)[:k]]


def sample(
    sampler: dict[str, Any] | None,
    *,
    num_priors: int,
    num_classes: int,
    roi_head: bool,
    seed: int,
    num_gts: int = 8,
) -> Sampled:
    """Assign and sample ``num_priors`` priors with the ``sampler`` config (``None`` or a
    PseudoSampler: every prior, normalised by the positives). The dense head's ``avg_factor`` is
    counted as both versions count it: 3.x's ``SamplingResult.avg_factor`` (``num_pos =
    max(pos_inds.numel(), 1)``, plus ``num_neg``, floored alike, with a real sampler) and 2.x's
    ``AnchorHead.get_targets`` (``sum(max(inds.numel(), 1))`` over the images) agree."""

    def at_least_1(n: int) -> int:
        return max(n, 1)

    g = torch.Generator().manual_seed(seed)
    gt_inds, ious, gt_labels = _assignment(num_priors, num_gts, num_classes, g, roi_head)
    kind = bare_type(str(sampler.get("type"))) if sampler else "PseudoSampler"
    params = dict(sampler or {})
    pos_pool = torch.nonzero(gt_inds > 0).squeeze(1)
    neg_pool = torch.nonzero(gt_inds == 0).squeeze(1)
    if kind == "PseudoSampler":
        pos, neg = pos_pool, neg_pool
        avg_factor = float(at_least_1(pos.numel()))
        why = f"PseudoSampler: every prior is used ({pos.numel()} positives, {neg.numel()} negatives, {num_priors - pos.numel() - neg.numel()} ignored)"
        rule = "max(positives, 1)"
    else:
        if kind not in SIMULATED:
            why = "it needs the model's predictions" if kind in NEEDS_PREDICTIONS else "losstune does not model it yet"
            raise ValueError(f"{kind} cannot be simulated ({why})")
        num, frac = int(params.get("num", 0)), float(params.get("pos_fraction", 0.0))
        neg_pos_ub = int(params.get("neg_pos_ub", -1))
        if params.get("add_gt_as_proposals", True):
            extra = torch.arange(1, num_gts + 1)
            gt_inds = torch.cat([extra, gt_inds])
            ious = torch.cat([torch.ones(num_gts), ious])
            pos_pool = torch.nonzero(gt_inds > 0).squeeze(1)
            neg_pool = torch.nonzero(gt_inds == 0).squeeze(1)
        pos = _choose(pos_pool, int(num * frac), g)
        expected_neg = num - pos.numel()
        if neg_pos_ub >= 0:
            expected_neg = min(expected_neg, int(neg_pos_ub * max(1, pos.numel())))
        neg = _choose(neg_pool, expected_neg, g)
        avg_factor = float(at_least_1(pos.numel()) + at_least_1(neg.numel()))
        why = (
            f"{kind}(num={num}, pos_fraction={frac:g}, neg_pos_ub={neg_pos_ub}): {pos.numel()} of "
            f"{pos_pool.numel()} positives (at most int(num × pos_fraction) = {int(num * frac)}), {neg.numel()} of "
            f"{neg_pool.numel()} negatives"
        )
        rule = "max(positives, 1) + max(negatives, 1)"
    total = gt_inds.numel()
    labels = torch.full((total,), num_classes, dtype=torch.long)
    label_weights = torch.zeros(total)
    bbox_weights = torch.zeros(total, 4)
    labels[pos] = gt_labels[gt_inds[pos] - 1]
    label_weights[pos] = 1.0
    label_weights[neg] = 1.0
    bbox_weights[pos] = 1.0
    pos_mask = torch.zeros(total, dtype=torch.bool)
    pos_mask[pos] = True
    if roi_head:  # RoI heads see only the sampled RoIs
        keep = torch.cat([pos, neg])
        labels, label_weights, bbox_weights = labels[keep], label_weights[keep], bbox_weights[keep]
        ious, pos_mask = ious[keep], pos_mask[keep]
    stats = {"positives": int(pos.numel()), "negatives": int(neg.numel()), "priors": total, "avg_factor": avg_factor}
    return Sampled(labels, label_weights, bbox_weights, ious, pos_mask, avg_factor, why, stats, rule)


def _fixed_positives(
    num_preds: int, positives: int, num_classes: int, g: torch.Generator, description: str, rule: str
) -> Sampled:
    """``num_preds`` predictions of which ``positives`` (at seeded places) are matched to a box;
    every prediction has a label weight, the positives a box weight."""
    order = torch.randperm(num_preds, generator=g)
    pos = order[:positives]
    labels = torch.full((num_preds,), num_classes, dtype=torch.long)
    labels[pos] = torch.randint(0, num_classes, (pos.numel(),), generator=g)
    pos_mask = torch.zeros(num_preds, dtype=torch.bool)
    pos_mask[pos] = True
    ious = torch.zeros(num_preds)
    ious[pos] = torch.rand(pos.numel(), generator=g) * 0.8 + 0.1
    bbox_weights = pos_mask[:, None].float().expand(-1, 4).clone()
    stats = {"positives": pos.numel(), "negatives": num_preds - pos.numel(), "priors": num_preds}
    avg = float(max(pos.numel(), 1))
    return Sampled(
        labels, torch.ones(num_preds), bbox_weights, ious, pos_mask, avg, description, stats | {"avg_factor": avg}, rule
    )


def hungarian(num_queries: int, num_gts: int, num_classes: int, seed: int) -> Sampled:
    """A DETR head's matching: the Hungarian assigner gives each ground-truth box exactly one of
    the ``num_queries`` queries; every other query is a negative (background)."""
    g = torch.Generator().manual_seed(seed)
    positives = min(num_gts, num_queries)
    what = (
        f"HungarianAssigner: {num_queries} queries, one matched to each of the {num_gts} boxes "
        f"({positives} positives, {num_queries - positives} negatives)"
    )
    return _fixed_positives(num_queries, positives, num_classes, g, what, "max(positives, 1)")


SIMOTA_CANDIDATES = 75  # priors in a box's centre region: 5×5 (radius 2.5) at each of 3 levels
SIMOTA_TOPK = 10
SIMOTA_IOU = 0.1  # the candidates' IoUs with an untrained head's boxes stay below this


def dynamic_k(num_priors: int, num_gts: int, num_classes: int, seed: int, *, assigner: str, topk: int) -> Sampled:
    """The positives of an assigner that gives each box ``dynamic_k = max(int(Σ of its topk best
    IoUs), 1)`` priors (SimOTAAssigner, DynamicSoftLabelAssigner), approximated: its candidates'
    IoUs with the head's predicted boxes drawn seeded and uniform in [0, ``SIMOTA_IOU``): an
    untrained head's boxes barely overlap the boxes, so each box gets one prior, as MMDetection
    3.3.0's heads give on a freshly built head. Each positive's ``ious`` is the IoU the assigner saw
    (the best ones of its box's candidates), which such heads weight and normalise by."""
    g = torch.Generator().manual_seed(seed)
    candidates = torch.rand(num_gts, SIMOTA_CANDIDATES, generator=g) * SIMOTA_IOU
    best = candidates.sort(dim=1, descending=True)[0]
    k = best[:, :topk].sum(1).int().clamp(min=1)
    positives = min(int(k.sum()), num_priors)
    what = (
        f"{assigner} (approximated): {num_priors} priors, {num_gts} boxes taking dynamic_k = "
        f"max(int(Σ of the {topk} best IoUs), 1) = {', '.join(str(int(n)) for n in k)} priors each "
        f"({positives} positives, {num_priors - positives} negatives)"
    )
    s = _fixed_positives(num_priors, positives, num_classes, g, what, "max(positives, 1)")
    taken = torch.cat([best[i, : int(n)] for i, n in enumerate(k)])[:positives]
    s.ious[s.pos_mask] = taken[: int(s.pos_mask.sum())]
    return s


def simota(num_priors: int, num_gts: int, num_classes: int, seed: int) -> Sampled:
    """YOLOX's SimOTA positives (SimOTAAssigner's rule, its 10 best IoUs), approximated as
    :func:`dynamic_k` does."""
    return dynamic_k(num_priors, num_gts, num_classes, seed, assigner="SimOTAAssigner", topk=SIMOTA_TOPK)


def denoising(num_gts: int, groups: int, num_classes: int, seed: int) -> Sampled:
    """DINO's denoising queries: ``groups`` groups of ``2 × num_gts`` noised boxes, the first half of
    each group a positive of its box, the second half a negative (DINOHead._get_dn_targets_single)."""
    g = torch.Generator().manual_seed(seed)
    per_group = 2 * num_gts
    queries = per_group * groups
    what = (
        f"denoising queries: {groups} groups of 2 × {num_gts} noised boxes ({queries} queries, "
        f"{num_gts * groups} positives, {num_gts * groups} negatives)"
    )
    s = _fixed_positives(queries, num_gts * groups, num_classes, g, what, "max(positives, 1)")
    return s


ROI_PROPOSALS = 2000  # the proposals of one image the sampler draws from, about


def rcnn_cfg(model: dict[str, Any]) -> dict[str, Any]:
    """``model.train_cfg.rcnn``, or ``{}``."""
    train = model.get("train_cfg")
    rcnn = train.get("rcnn") if isinstance(train, dict) else None
    return rcnn if isinstance(rcnn, dict) else {}


def roi_sample(model: dict[str, Any], num_classes: int, seed: int, proposals: int = ROI_PROPOSALS) -> Sampled:
    """The RoIs the configured RoI sampler (``train_cfg.rcnn.sampler``) draws from one image's
    ``proposals``."""
    sampler = rcnn_cfg(model).get("sampler")
    return sample(
        sampler if isinstance(sampler, dict) else None,
        num_priors=proposals,
        num_classes=num_classes,
        roi_head=True,
        seed=seed,
    )


def sampled_positives(model: dict[str, Any], num_classes: int, seed: int) -> tuple[int, str]:
    """The positives the configured RoI sampler gives one image (of :data:`ROI_PROPOSALS`), and how."""
    sampler = rcnn_cfg(model).get("sampler")
    s = roi_sample(model, num_classes, seed)
    kind = bare_type(str(sampler.get("type"))) if isinstance(sampler, dict) else "PseudoSampler"
    return int(s.pos_mask.sum()), f"the positives {kind} samples of one image's {ROI_PROPOSALS} proposals"

"""YOLACT's box head (``YOLACTHead``) and the semantic segmentation branch of its protonet
(``YOLACTProtonet``) as MMDetection 3.3.0 feeds their loss modules, on a seeded image.

``YOLACTHead.loss_by_feat`` (``use_ohem=True``, as every config of MMDetection's has it) assigns and
samples the anchors (``train_cfg``: ``MaxIoUAssigner``, ``PseudoSampler``), and calls
``OHEMloss_by_feat_single`` once per image, on every anchor of the image. ``loss_cls`` (a softmax
``CrossEntropyLoss`` of ``num_classes + 1`` logits, the config's ``reduction='none'``) is handed
the logits, labels and label weights with no avg_factor and returns each anchor's loss; the head
sums the positives' and the ``train_cfg.neg_pos_ratio × positives`` highest of the anchors labelled
background (at most as many as there are; with no positive, all of them) and divides by the
sampling's avg_factor of the whole batch (``Σ max(positives, 1)`` over the images with the
PseudoSampler). ``loss_bbox`` is handed every anchor's deltas, targets and box weights with that
avg_factor. The training log sums the images' terms.

``YOLACTProtonet.loss_by_feat`` calls ``loss_segm`` (a sigmoid ``CrossEntropyLoss``) once per image
on the segmentation branch's logits ``(num_classes, H, W)`` at the first feature level (stride 8)
against each class's union of its instances' masks resized to that map (bilinear, above 0.5), with
``avg_factor = images × H × W`` and no weight; the log sums the images. The class of an instance
labelled ``k`` is written to channel ``k - 1`` (MMDetection's code: label 0 goes to the last
channel). Its ``loss_mask`` is ``F.binary_cross_entropy`` in the head's own code, no loss module
(not modelled).

The model's image is 550 × 550 (YOLACT's input size), or the square whose anchors at the FPN's
strides 8 to 128 (``len(ratios) × scales`` a cell) are the priors asked for; its feature maps
``ceil(side / stride)`` a side, as ResNet and FPN make them. Its instances are ellipses inscribed
in boxes drawn as the comparison's batch draws them. The predictions are an untrained head's on
the comparison's batch (Xavier-initialised convolutions, measured on the R-50 and R-101 configs at
128 and 256 pixels): class logits about 0 ± 4 (3.0 to 5.7), box deltas ± 4.5 (3 to 8.5) against
targets as SSD's encoded with ``target_stds``, segmentation logits -1 ± 5 (-0.2 ± 4.2 to -1.9 ± 6.9)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.ellipses import inside_ellipses
from losstune.engine.heads_condinst import image_side as points_side
from losstune.engine.heads_ssd import RAW_TARGET_SPREAD, mined, neg_pos_ratio, target_stds
from losstune.engine.inputs import InputError, Inputs, OtherCalls
from losstune.engine.sampling import NUM_GTS, Sampled, sample
from losstune.words import count

YOLACT_HEAD, PROTONET = "YOLACTHead", "YOLACTProtonet"
INPUT_SIDE = 550  # YOLACT's configs' input_size
LEVEL_STRIDES = (8, 16, 32, 64, 128)  # the FPN's levels (start_level=1, two extra convs)
SEGM_STRIDE = 8  # the segmentation branch runs on the first level
LOGIT_SPREAD, DELTA_SPREAD = 4.0, 4.5
SEGM_MEAN, SEGM_SPREAD = -1.0, 5.0
MASK_MEAN, MASK_SPREAD = 1.0, 4.5
OHEM_METHOD = "OHEMloss_by_feat_single"
# the mask heads whose method computing loss_mask the comparison records
MASK_METHODS = {PROTONET: "loss_by_feat"}


def anchors_per_cell(head: dict[str, Any]) -> int:
    """``AnchorGenerator.num_base_priors`` of the head's ``anchor_generator``: its ratios times
    its scales (``scales_per_octave`` where ``octave_base_scale`` is set), YOLACTHead's default
    (3 ratios, 1 scale) where unset."""
    gen = head.get("anchor_generator")
    gen = gen if isinstance(gen, dict) else {}
    ratios = gen.get("ratios", [0.5, 1.0, 2.0])
    n_ratios = len(ratios) if isinstance(ratios, (list, tuple)) and ratios else 3
    if "octave_base_scale" in gen or "scales" not in gen:
        scales = config_int(gen, "scales_per_octave", 1, least=1)
    else:
        listed = gen.get("scales")
        scales = len(listed) if isinstance(listed, (list, tuple)) and listed else 1
    return n_ratios * scales


def level_sides(side: int) -> list[int]:
    """The feature maps' sides of a ``side`` image at :data:`LEVEL_STRIDES` (each stride-2 layer
    of ResNet and the FPN rounds up)."""
    return [math.ceil(side / s) for s in LEVEL_STRIDES]


def anchor_count(side: int, head: dict[str, Any]) -> int:
    """The anchors of a ``side`` × ``side`` image."""
    return anchors_per_cell(head) * sum(n * n for n in level_sides(side))


def side_of(num_priors: int | None, head: dict[str, Any]) -> int:
    """The model's image side: :data:`INPUT_SIDE`, or the square whose anchors come nearest to
    ``num_priors`` (the largest of those)."""
    if num_priors is None:
        return INPUT_SIDE
    return points_side(max(num_priors // anchors_per_cell(head), 1), LEVEL_STRIDES)


def ohem_kept(losses: Tensor, labels: Tensor, num_classes: int, ratio: int) -> Tensor:
    """The anchors ``OHEMloss_by_feat_single`` sums of one image's per-anchor ``losses``: the
    positives and the ``ratio × positives`` background anchors of highest loss (capped at those
    there are); with no positive, every background anchor."""
    if bool(((labels >= 0) & (labels < num_classes)).any()):
        return mined(losses, labels, num_classes, ratio)
    return labels == num_classes


def _train_cfg(model: dict[str, Any]) -> dict[str, Any]:
    train = model.get("train_cfg")
    return train if isinstance(train, dict) else {}


def _assigned(model: dict[str, Any], num_classes: int, priors: int, seed: int) -> Sampled:
    """One image's anchors assigned and sampled with the model's ``train_cfg.sampler``."""
    sampler = _train_cfg(model).get("sampler")
    config = sampler if isinstance(sampler, dict) else None
    return sample(config, num_priors=priors, num_classes=num_classes, roi_head=False, seed=seed)


def _ohem_combine(labels: Tensor, num_classes: int, ratio: int) -> Callable[[list[Any], float], tuple[Any, str]]:
    """The head's reduction of the module's per-anchor losses: the mined anchors' sum ÷ avg_factor."""

    def combine(results: list[Any], divisor: float) -> tuple[Any, str]:
        losses = results[0]
        keep = ohem_kept(losses, labels, num_classes, ratio)
        positives = int(((labels >= 0) & (labels < num_classes)).sum())
        hardest = int(keep.sum()) - positives
        which = (
            f"the {count(positives, 'positive')}' and the {hardest} hardest background anchors' losses "
            f"(neg_pos_ratio × positives = {ratio} × {positives}, at most the background anchors there are)"
            if positives
            else f"every background anchor's loss ({hardest}: with no positive the head mines them all)"
        )
        text = f"Σ of {which} ÷ avg_factor = {divisor:g}, as YOLACTHead.{OHEM_METHOD} reduces them"
        return losses[keep].sum() / divisor, text

    return combine


def yolact_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """YOLACTHead's call of ``loss_cls`` or ``loss_bbox`` on one image's anchors (``None`` for
    another loss): ``num_priors`` of them, else a 550-pixel image's."""
    if loss_name not in ("loss_cls", "loss_bbox"):
        return None
    if head.get("use_ohem", True) is False:
        raise InputError(
            "losstune models YOLACTHead with use_ohem=True (its OHEMloss_by_feat_single); with use_ohem=False "
            "it runs AnchorHead.loss_by_feat_single, which losstune does not model for it",
            replayable=True,
        )
    side = side_of(num_priors, head)
    priors = num_priors if num_priors is not None else anchor_count(side, head)
    s = _assigned(model, num_classes, priors, seed)
    g = torch.Generator().manual_seed(seed + 1)
    n = s.labels.numel()
    what = f"; YOLACTHead.{OHEM_METHOD} hands the module every anchor of the image"
    if loss_name == "loss_bbox":
        pred = torch.randn(n, 4, generator=g) * DELTA_SPREAD
        target = torch.randn(n, 4, generator=g) * torch.tensor(RAW_TARGET_SPREAD) / target_stds(head)
        text = s.description + what + ", the positives' box weights 1"
        sampled = replace(s, description=text)
        return Inputs([pred, target, s.bbox_weights], {"avg_factor": s.avg_factor}, sampled, avg_rule=s.avg_rule)
    reduction = loss_cfg.get("reduction", "mean")
    if reduction != "none":
        raise InputError(
            f"YOLACTHead indexes loss_cls's per-anchor losses to mine the hard negatives: with reduction="
            f"{reduction!r} the module returns one number and MMDetection fails there; set reduction='none'"
        )
    ratio = neg_pos_ratio(model)
    score = torch.randn(n, num_classes + 1, generator=g) * LOGIT_SPREAD
    text = (
        s.description + what + f" ({num_classes + 1} softmax logits, the last the background) with its label "
        "weights, and takes its per-anchor losses (the config's reduction='none')"
    )
    sampled = replace(s, description=text)
    others = OtherCalls([], _ohem_combine(s.labels, num_classes, ratio))
    return Inputs([score, s.labels, s.label_weights], {}, sampled, avg_rule=s.avg_rule, others=others)


def instance_masks(boxes: Tensor, side: int, size: int) -> Tensor:
    """``(boxes, size, size)``: each box's instance (the ellipse inscribed in it) on a ``side``
    image, at the centres of a ``size`` × ``size`` map's cells, 1 inside."""
    centres = (torch.arange(size, dtype=boxes.dtype) + 0.5) * (side / size)
    return inside_ellipses(boxes, centres, centres).float()


def segm_targets(boxes: Tensor, labels: Tensor, side: int, size: int, num_classes: int) -> Tensor:
    """``_get_targets_single``'s semantic targets: ``(num_classes, size, size)``, channel
    ``label - 1`` of each instance (label 0: the last) the union of its masks."""
    out = torch.zeros(num_classes, size, size)
    for inside, label in zip(instance_masks(boxes, side, size), labels.tolist(), strict=True):
        channel = (label - 1) % num_classes
        out[channel] = torch.maximum(out[channel], inside)
    return out


def _instances(side: int, classes: int, seed: int) -> tuple[Tensor, Tensor]:
    """The model's image's boxes (a tenth to a half of its side, as the comparison's batch draws
    them) and labels."""
    g = torch.Generator().manual_seed(seed + 1)
    wh = (0.1 + 0.4 * torch.rand(NUM_GTS, 2, generator=g)) * side
    xy = torch.rand(NUM_GTS, 2, generator=g) * (side - wh)
    return torch.cat([xy, xy + wh], 1), torch.randint(0, classes, (NUM_GTS,), generator=g)


def crop_inside(boxes: Tensor, height: int, width: int, padding: int = 1) -> Tensor:
    """``crop_single``'s kept pixels of ``(boxes, height, width)`` masks: those in each box (given
    as shares of the image, ``(N, 4)``) grown by ``padding`` pixels, within the map."""

    def sides(a: Tensor, b: Tensor, size: int) -> tuple[Tensor, Tensor]:
        low, high = torch.min(a * size, b * size), torch.max(a * size, b * size)
        return (low - padding).clamp(min=0), (high + padding).clamp(max=size)

    x1, x2 = sides(boxes[:, 0], boxes[:, 2], width)
    y1, y2 = sides(boxes[:, 1], boxes[:, 3], height)
    xs = torch.arange(width, dtype=x1.dtype)[None, None, :]
    ys = torch.arange(height, dtype=y1.dtype)[None, :, None]
    inside_x = (xs >= x1[:, None, None]) & (xs < x2[:, None, None])
    return inside_x & (ys >= y1[:, None, None]) & (ys < y2[:, None, None])


# torch's binary_cross_entropy clamps its logs at -100: a cropped-out pixel (probability 0) costs
# what a logit of -100 costs, and a probability of 1 what +100 does
CROP_LOGIT = 100.0


def cropped_logits(probabilities: Tensor, inside: Tensor) -> Tensor:
    """The logits whose sigmoid cross-entropy is the head's ``F.binary_cross_entropy`` of the
    cropped ``probabilities`` (0 outside ``inside``)."""
    logits = torch.logit(probabilities.double()).clamp(-CROP_LOGIT, CROP_LOGIT)
    return torch.where(inside, logits, torch.full_like(logits, -CROP_LOGIT)).to(probabilities.dtype)


def reweighted(losses: Tensor, widths: Tensor, heights: Tensor) -> Tensor:
    """One image's ``loss_mask`` before the division by the masks: each mask's mean loss ÷ its
    box's width and height as shares of the image's, summed."""
    return (losses.mean(dim=(1, 2)) / widths / heights).sum()


def proto_scale(head: dict[str, Any]) -> int:
    """How many times the protonet upsamples the first level (its ``proto_kernel_sizes``' negative
    sizes multiplied; 2 by default)."""
    sizes = head.get("proto_kernel_sizes", (3, 3, 3, -2, 3, 1))
    if not isinstance(sizes, (list, tuple)) or not all(isinstance(k, int) for k in sizes):
        return 2
    return math.prod(-k for k in sizes if k < 0)


def mask_inputs(
    loss_name: str,
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """YOLACTProtonet's ``loss_mask`` on the model's image (``None`` for another loss): the box
    head's positives (its assignment, same seed; at most ``max_masks_to_train``), each one's
    mask, cropped to its box, against its instance's mask, as the sigmoid cross-entropy that
    computes the head's ``F.binary_cross_entropy``; the head's reweighting and division are the
    term's (:func:`reweighted`)."""
    if loss_name != "loss_mask":
        return None
    box_head = model.get("bbox_head")
    box_head = box_head if isinstance(box_head, dict) else {}
    side = side_of(num_priors, box_head)
    priors = num_priors if num_priors is not None else anchor_count(side, box_head)
    assigned = _assigned(model, num_classes, priors, seed)
    most = config_int(head, "max_masks_to_train", 100, least=0)
    masks = min(int(assigned.pos_mask.sum()), most)
    size = math.ceil(side / SEGM_STRIDE) * proto_scale(head)
    boxes, _ = _instances(side, config_int(head, "num_classes", 80, least=1), seed)
    g = torch.Generator().manual_seed(seed + 2)
    of = torch.randint(0, NUM_GTS, (masks,), generator=g)
    shares = boxes[of] / side
    probabilities = (torch.randn(masks, size, size, generator=g) * MASK_SPREAD + MASK_MEAN).sigmoid()
    logits = cropped_logits(probabilities, crop_inside(shares, size, size))
    targets = instance_masks(boxes, side, size)[of]
    widths, heights = shares[:, 2] - shares[:, 0], shares[:, 3] - shares[:, 1]

    def combine(results: list[Any], divisor: float) -> tuple[Any, str]:
        text = (
            f"each mask's mean ({size}×{size} pixels) ÷ its box's width and height as shares of the image's, "
            f"summed, ÷ max(masks, 1) = {divisor:g} (total_pos), as YOLACTProtonet.loss_by_feat reduces them"
        )
        return reweighted(results[0], widths, heights) / divisor, text

    what = (
        f"{assigned.description}; YOLACTProtonet takes the box head's positives, "
        f"{count(masks, 'mask')} (max_masks_to_train = {most}): each one's {size}×{size} mask probabilities (a "
        f"{side}×{side} image's first level × {proto_scale(head)}) cropped to its box grown by a pixel, against its "
        f"instance's mask, as their logits (±{CROP_LOGIT:g} where torch's log clamp stands), per pixel "
        "(reduction_override='none')"
    )
    stats = {"positives": masks, "negatives": 0, "priors": priors, "avg_factor": None}
    pos_mask = torch.zeros_like(assigned.pos_mask)
    pos_mask[torch.nonzero(assigned.pos_mask).squeeze(1)[:masks]] = True
    s = replace(assigned, pos_mask=pos_mask, description=what, stats=stats, avg_rule="none")
    return Inputs([logits, targets], {"reduction_override": "none"}, s, others=OtherCalls([], combine))


def segm_inputs(
    loss_name: str,
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """YOLACTProtonet's call of ``loss_segm`` on one image's segmentation logits (``None`` for
    another loss); ``num_priors``: the box head's anchors, which give the image."""
    if loss_name != "loss_segm":
        return None
    box_head = model.get("bbox_head")
    side = side_of(num_priors, box_head if isinstance(box_head, dict) else {})
    size = math.ceil(side / SEGM_STRIDE)
    classes = config_int(head, "num_classes", 80, least=1)
    boxes, labels = _instances(side, classes, seed)
    target = segm_targets(boxes, labels, side, size, classes)
    g = torch.Generator().manual_seed(seed + 2)
    logits = torch.randn(classes, size, size, generator=g) * SEGM_SPREAD + SEGM_MEAN
    pixels = size * size
    what = (
        f"no sampler: one image's {size}×{size} segmentation logits (a {side}×{side} image at stride "
        f"{SEGM_STRIDE}) of {count(classes, 'class', 'classes')}, each class's channel (label - 1) the union of "
        f"its instances' masks ({count(NUM_GTS, 'ellipse')}, {int(target.sum())} pixels); every map handed to the "
        "module, with no weight"
    )
    stats = {"positives": classes, "negatives": 0, "priors": pixels, "images": 1, "avg_factor": float(pixels)}
    s = Sampled(
        torch.zeros(1, dtype=torch.long),
        torch.ones(1),
        torch.ones(1, 4),
        torch.zeros(1),
        torch.ones(1, dtype=torch.bool),
        float(pixels),
        what,
        stats,
        "none",
    )
    return Inputs([logits, target], {"avg_factor": float(pixels)}, s, avg_rule="images × the map's pixels")


@dataclass(frozen=True)
class MaskReplay:
    """YOLACTProtonet's ``loss_mask`` computed by the model on the arguments of the head's
    ``loss_by_feat``: each image's masks kept and its sum before the division, the masks' size."""

    masks: tuple[int, ...]
    sums: tuple[float, ...]
    size: tuple[int, int]

    @property
    def value(self) -> float:
        """The term: the images' sums ÷ the masks kept, at least 1 (total_pos)."""
        return sum(self.sums) / max(sum(self.masks), 1)


def replay_masks(arguments: dict[str, Any], loss_cfg: dict[str, Any], most: int) -> MaskReplay:
    """The model's ``loss_mask`` on ``loss_by_feat``'s ``arguments`` (the uncropped mask
    probabilities of each image, its instances, metas and positives), ``loss_cfg`` the module that
    computes the head's cross-entropy, ``most`` its ``max_masks_to_train`` (past which the head
    keeps a random subset: the model keeps the first)."""
    from torch.nn.functional import interpolate

    from losstune.engine.evaluation import evaluate

    masks, sums = [], []
    size = (0, 0)
    for probabilities, gt, meta, info in zip(
        arguments["mask_preds"],
        arguments["batch_gt_instances"],
        arguments["batch_img_metas"],
        arguments["positive_infos"],
        strict=True,
    ):
        h, w = meta["img_shape"][:2]
        preds = probabilities.detach().permute(2, 0, 1)
        size = (int(preds.shape[1]), int(preds.shape[2]))
        shares = info.bboxes.detach() / torch.tensor([w, h, w, h], dtype=preds.dtype)
        inside = crop_inside(shares, *size)
        instances = gt.masks.to_tensor(dtype=torch.bool, device="cpu").float()
        inds = info.pos_assigned_gt_inds[:most]
        if instances.shape[0] == 0 or inds.numel() == 0:
            masks.append(0)
            sums.append(0.0)
            continue
        targets = interpolate(instances[None], size, mode="bilinear", align_corners=False)[0].gt(0.5).float()
        logits = cropped_logits(preds[: inds.numel()].clamp(0, 1), inside[: inds.numel()])
        losses = evaluate(loss_cfg, logits, targets[inds], reduction_override="none").loss
        boxes = gt.bboxes[inds]
        widths, heights = (boxes[:, 2] - boxes[:, 0]) / w, (boxes[:, 3] - boxes[:, 1]) / h
        masks.append(int(inds.numel()))
        sums.append(float(reweighted(losses, widths, heights)))
    return MaskReplay(tuple(masks), tuple(sums), size)

"""The seeded synthetic batch the head is run on, and the plain form ``--save-batch`` writes: tensors,
lists, tuples, dicts, numbers and strings only, so that ``torch.load(FILE, weights_only=True)`` reads
it back and MMDetection's own head can be run on it again (see :mod:`replay`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from losstune.engine.confignum import config_int
from losstune.keypath import walk_dicts
from losstune.schema.catalogue import bare_type

if TYPE_CHECKING:
    from torch import Generator, Tensor

LAYOUT = "losstune-head-batch/1"
SAMPLE_FIELDS = ("gt_instances", "ignored_instances", "proposals")


@dataclass(frozen=True)
class BatchSpec:
    """How the synthetic batch is made: images of ``size`` × ``size`` pixels, ``boxes`` boxes each;
    and the training ``epoch`` the head runs at (mmengine's ``MessageHub`` info ``epoch``, which
    TOODHead reads)."""

    seed: int = 0
    images: int = 2
    size: int = 256
    boxes: int = 3
    sized_by: str = ""  # what in the config set the size, where it did
    epoch: int = 0
    masks: bool = False  # an instance mask for each box (a model with a mask head)
    semantic: bool = False  # a semantic segmentation map for each image (a model with a semantic head)
    semantic_classes: int = 183  # its classes (the semantic head's num_classes)
    # a text detector's prompt: the class names each sample carries as ``text``, with
    # ``custom_entities`` (what MMDetection's pipeline packs for Grounding DINO and GLIP)
    text: tuple[str, ...] = ()
    proposals: int = 0  # precomputed proposals an image (a detector without an RPN: Fast R-CNN's)
    proposals_by: str = ""  # where the config sets their number
    # a video detector's batch (MaskTrackRCNN, Mask2FormerVideo, QDTrack): each sample a video of
    # this many frames (a key frame and its reference), its instances carrying ids (0: images)
    frames: int = 0

    def describe(self) -> str:
        by = f" ({self.sized_by})" if self.sized_by else ""
        masks = ", each with its mask (the ellipse inside the box)" if self.masks else ""
        semantic = (
            "; a semantic map each (the boxes' ellipses painted with their labels, the other pixels with the "
            f"semantic head's last class, {self.semantic_classes - 1})"
            if self.semantic
            else ""
        )
        text = f"; the text of its {len(self.text)} class names each (custom entities)" if self.text else ""
        proposals = (
            f"; {self.proposals} seeded proposals each, standing in for the precomputed ones ({self.proposals_by}): "
            "boxes of a tenth to a half of the side anywhere in the image, scores descending"
            if self.proposals
            else ""
        )
        if self.frames:
            return (
                f"synthetic batch, seed {self.seed}: {self.images} videos of {self.frames} frames of "
                f"{self.size}×{self.size}{by}, the key frame first, {self.boxes} ground-truth boxes in it{masks}, "
                f"each an instance id; {REFERENCE}{semantic}{text}{proposals}"
            )
        return (
            f"synthetic batch, seed {self.seed}: {self.images} images of {self.size}×{self.size}{by}, "
            f"{self.boxes} ground-truth boxes each{masks}{semantic}{text}{proposals}"
        )


# MMDetection 3.3.0's video detectors: their ``loss`` takes (videos, frames, C, H, W) inputs and a
# TrackDataSample a video, a key frame and a reference frame
VIDEO_DETECTORS = ("MaskTrackRCNN", "Mask2FormerVideo", "QDTrack")
VIDEO_FRAMES = 2  # MaskTrackRCNN and QDTrack take 1 key and 1 reference frame; Mask2FormerVideo num_frames
REFERENCE = (
    "the reference frame holds the same instances but the key frame's last, each box moved by up to a "
    "twentieth of the image's side"
)


PRIOR_GENERATORS = ("anchor_generator", "prior_generator")


def fitted(spec: BatchSpec, model: dict[str, Any]) -> BatchSpec:
    """``spec`` at the input size a prior generator of ``model`` is built for, where one names it
    (SSDAnchorGenerator's ``input_size``): its anchors are laid out for that size, and the network
    around it is made for it (SSD300's last level is 1×1 at 300 pixels; its VGG backbone and extra
    levels fail at 128); with a mask for each box where the model has a mask head (its targets are
    cropped from the ground-truth masks; a head with a ``loss_mask`` of its own, RTMDet-Ins' and
    Mask2Former's, takes its targets from them too)."""
    if not spec.masks and any("mask_head" in path or "loss_mask" in d for path, d in walk_dicts(model)):
        spec = replace(spec, masks=True)
    if not spec.frames and bare_type(str(model.get("type", ""))) in VIDEO_DETECTORS:
        spec = replace(spec, frames=video_frames(model))
    semantic = semantic_classes(model)
    if not spec.semantic and semantic is not None:
        spec = replace(spec, semantic=True, semantic_classes=semantic)
    spec = _queries_fit(spec, model)
    for path, d in walk_dicts(model):
        size = config_int(d, "input_size", None, least=32)  # the coarsest feature maps need 32 pixels
        if path and path[-1] in PRIOR_GENERATORS and size is not None:
            if size == spec.size:
                return spec
            return replace(spec, size=size, sized_by=f"the input size of {bare_type(str(d.get('type', path[-1])))}")
    return spec


# the detectors whose pre_decoder takes torch.topk of num_queries of the encoder's tokens (two-stage:
# DINO always, DeformableDETR with as_two_stage); DDQDETR's keeps what its NMS leaves, however few
TOPK_OF_TOKENS = ("DINO", "GroundingDINO", "DeformableDETR")


def encoder_tokens(model: dict[str, Any], size: int) -> int:
    """The tokens a DETR's encoder is handed on a ``size`` × ``size`` image: the pixels of each
    feature level, the backbone's stages ``out_indices`` at 4 × 2^i (ResNet's and Swin's strides)
    and each extra level of the neck half the one before, ``num_feature_levels`` in all."""
    backbone = model.get("backbone")
    indices = backbone.get("out_indices") if isinstance(backbone, dict) else None
    stages = [i for i in indices if isinstance(i, int) and i >= 0] if isinstance(indices, (list, tuple)) else []
    strides = [4 * 2**i for i in stages] or [8, 16, 32]
    neck = model.get("neck")
    levels = config_int(model, "num_feature_levels", config_int(neck, "num_outs", 4, least=1), least=1)
    while len(strides) < levels:
        strides.append(strides[-1] * 2)
    return sum(math.ceil(size / s) ** 2 for s in strides[:levels])


def _queries_fit(spec: BatchSpec, model: dict[str, Any]) -> BatchSpec:
    """``spec`` at the smallest multiple of 32 pixels, no smaller than its own size, whose encoder
    tokens are at least the ``num_queries`` a two-stage DETR selects from them (``torch.topk`` of
    more than there are fails: DINO's 900 of 340 tokens at 128 pixels)."""
    kind = bare_type(str(model.get("type", "")))
    if kind not in TOPK_OF_TOKENS or (kind == "DeformableDETR" and model.get("as_two_stage") is not True):
        return spec
    queries = config_int(model, "num_queries", None, least=1)
    if queries is None or encoder_tokens(model, spec.size) >= queries:
        return spec
    size = -(-spec.size // 32) * 32
    while encoder_tokens(model, size) < queries:
        size += 32
    return replace(spec, size=size, sized_by=f"{kind}'s {queries} queries taken from its encoder's tokens")


def reference_boxes(boxes: int) -> int:
    """The boxes of a video's reference frame whose key frame has ``boxes``: all but the last (see
    :data:`REFERENCE`)."""
    return max(boxes - 1, 0)


def video_frames(model: dict[str, Any]) -> int:
    """The frames of each video a video detector trains on: its track head's ``num_frames``
    (Mask2FormerTrackHead's), else a key frame and a reference frame."""
    head = model.get("track_head")
    return config_int(head if isinstance(head, dict) else {}, "num_frames", VIDEO_FRAMES, least=2)


def semantic_classes(model: dict[str, Any]) -> int | None:
    """The classes of ``model``'s semantic head (``roi_head.semantic_head``: HTC's, its
    ``num_classes``, 183 unless set), or of its panoptic head with stuff classes (MaskFormer's and
    Mask2Former's ``panoptic_head``, PanopticFPN's ``semantic_head``: ``num_things_classes +
    num_stuff_classes``, the map's other pixels its last stuff class), or ``None`` where it has neither."""
    for key in ("panoptic_head", "semantic_head"):
        panoptic = model.get(key)
        if isinstance(panoptic, dict) and config_int(panoptic, "num_stuff_classes", 53) > 0:
            return config_int(panoptic, "num_things_classes", 80) + config_int(panoptic, "num_stuff_classes", 53)
    roi = model.get("roi_head")
    head = roi.get("semantic_head") if isinstance(roi, dict) else None
    if not isinstance(head, dict):
        return None
    return config_int(head, "num_classes", 183, least=1)


def synthetic(spec: BatchSpec, num_classes: int) -> tuple[Tensor, list[Any]]:
    """Seeded images (already normalised, as the data preprocessor hands them on) and one
    ``DetDataSample`` per image: boxes inside the image (a tenth to a half of its side) with labels
    below ``num_classes`` (and the class names of ``spec.text``, where it has them), no ignored boxes, and the image metas the heads read; with
    ``spec.masks``, each box's mask (a ``BitmapMasks`` of the ellipse inside it); with
    ``spec.semantic``, the image's semantic map (``gt_sem_seg``, ``heads_semantic.paint_ellipses``)."""
    import torch

    from losstune.engine.heads_semantic import paint_ellipses

    if spec.text:  # a text detector's labels index the prompt's class names, as the pipeline's do
        num_classes = min(num_classes, len(spec.text))
    g = torch.Generator().manual_seed(spec.seed)
    images = torch.randn(spec.images, 3, spec.size, spec.size, generator=g)
    samples = []
    for i in range(spec.images):
        wh = (0.1 + 0.4 * torch.rand(spec.boxes, 2, generator=g)) * spec.size
        xy = torch.rand(spec.boxes, 2, generator=g) * (spec.size - wh)
        labels = torch.randint(0, max(num_classes, 1), (spec.boxes,), generator=g)
        shape = (spec.size, spec.size)
        boxes = torch.cat([xy, xy + wh], dim=1)
        gt = {"bboxes": boxes, "labels": labels}
        if spec.masks:
            gt["masks"] = ellipse_masks(boxes, spec.size)
        semantic = (
            {"gt_sem_seg": {"sem_seg": paint_ellipses(boxes, labels, spec.size, spec.semantic_classes)}}
            if spec.semantic
            else {}
        )
        samples.append(
            {
                **semantic,
                "metainfo": {
                    "img_id": i,
                    "img_shape": shape,
                    "ori_shape": shape,
                    "pad_shape": shape,
                    "batch_input_shape": shape,
                    "scale_factor": (1.0, 1.0),
                    **({"text": spec.text, "custom_entities": True} if spec.text else {}),
                },
                "gt_instances": gt,
                "ignored_instances": {"bboxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
            }
        )
    for sample in samples if spec.proposals else []:  # drawn after the boxes: those stay as without them
        sample["proposals"] = seeded_proposals(spec.proposals, spec.size, g)
    if spec.frames:
        return _videos(spec, images, samples, g)
    return images, [data_sample(s) for s in samples]


def _videos(spec: BatchSpec, keys: Tensor, samples: list[dict[str, Any]], g: Generator) -> tuple[Tensor, list[Any]]:
    """The batch as videos of ``spec.frames`` frames (``(videos, frames, 3, H, W)`` and a
    ``TrackDataSample`` each, as ``TrackDataPreprocessor`` hands them on): each key image and its
    boxes the first frame, their instance ids 1, 2, …; each later frame a fresh image holding the
    same instances but the key frame's last (as :data:`REFERENCE` says), drawn after every key frame."""
    import torch
    from mmdet.structures import TrackDataSample

    videos, out = [keys[:, None]], []
    frames: list[list[dict[str, Any]]] = []
    for key in samples:
        gt = key["gt_instances"]
        n = int(gt["labels"].numel())
        gt["instances_ids"] = torch.arange(1, n + 1)
        video = [key]
        for t in range(1, spec.frames):
            kept = reference_boxes(n)
            shift = (torch.rand(kept, 2, generator=g) - 0.5) * (spec.size / 10)
            boxes = gt["bboxes"][:kept]
            lo = (boxes[:, :2] + shift).clamp(min=0)
            lo = torch.minimum(lo, spec.size - (boxes[:, 2:] - boxes[:, :2]))
            moved = torch.cat([lo, lo + boxes[:, 2:] - boxes[:, :2]], dim=1)
            ref: dict[str, Any] = {
                "bboxes": moved,
                "labels": gt["labels"][:kept],
                "instances_ids": gt["instances_ids"][:kept],
            }
            if spec.masks:
                ref["masks"] = ellipse_masks(moved, spec.size)
            meta = {**key["metainfo"], "frame_id": t}
            video.append({**key, "metainfo": meta, "gt_instances": ref})
        key["metainfo"] = {**key["metainfo"], "frame_id": 0}
        frames.append(video)
    videos += [torch.randn(spec.images, 1, 3, spec.size, spec.size, generator=g) for _ in range(1, spec.frames)]
    for video in frames:
        sample = TrackDataSample()
        sample.video_data_samples = [data_sample(f) for f in video]
        sample.set_metainfo({"key_frames_inds": [0], "ref_frames_inds": list(range(1, spec.frames))})
        out.append(sample)
    return torch.cat(videos, dim=1), out


def seeded_proposals(n: int, size: int, g: Generator) -> dict[str, Tensor]:
    """``n`` proposals of a ``size`` × ``size`` image, as ``PackDetInputs`` packs what
    ``LoadProposals`` loaded: ``bboxes`` (a tenth to a half of the side, anywhere inside the image)
    and their ``scores``, in descending order as the dumped proposals are."""
    import torch

    wh = (0.1 + 0.4 * torch.rand(n, 2, generator=g)) * size
    xy = torch.rand(n, 2, generator=g) * (size - wh)
    scores = torch.rand(n, generator=g).sort(descending=True).values
    return {"bboxes": torch.cat([xy, xy + wh], dim=1), "scores": scores}


def ellipse_masks(boxes: Tensor, size: int) -> Any:
    """MMDetection's ``BitmapMasks`` of ``size`` × ``size``: for each box, the pixels whose centres
    lie in the ellipse inscribed in it."""
    import torch
    from mmdet.structures.mask import BitmapMasks

    from losstune.engine.ellipses import inside_ellipses

    centres = torch.arange(size, dtype=boxes.dtype) + 0.5
    inside = inside_ellipses(boxes, centres, centres)
    return BitmapMasks(inside.to(torch.uint8).numpy(), size, size)


def data_sample(plain: dict[str, Any]) -> Any:
    """A ``DetDataSample`` from its plain form."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    sample = DetDataSample(metainfo=dict(plain["metainfo"]))
    for name in SAMPLE_FIELDS:
        if name in plain:
            fields = dict(plain[name])
            masks: Any = fields.get("masks")
            if masks is not None and hasattr(masks, "numpy"):  # the instance masks, written as a (boxes, H, W) tensor
                from mmdet.structures.mask import BitmapMasks

                fields["masks"] = BitmapMasks(masks.numpy(), *masks.shape[1:])
            setattr(sample, name, InstanceData(**fields))
    if "gt_sem_seg" in plain:
        from mmengine.structures import PixelData

        sample.gt_sem_seg = PixelData(**dict(plain["gt_sem_seg"]))
    return sample


def plain_sample(sample: Any) -> dict[str, Any]:
    """A ``DetDataSample``'s metas and instances as plain data."""
    out: dict[str, Any] = {"metainfo": to_plain(dict(sample.metainfo))}
    for name in SAMPLE_FIELDS:
        if name in sample:
            instances = getattr(sample, name)
            out[name] = {k: to_plain(_tensor_of_masks(v)) for k, v in instances.items()}
    if "gt_sem_seg" in sample:
        out["gt_sem_seg"] = {k: to_plain(v) for k, v in sample.gt_sem_seg.items()}
    return out


def _tensor_of_masks(value: Any) -> Any:
    """A ``BitmapMasks`` as its (boxes, H, W) tensor of 0 and 1; anything else as it is."""
    if type(value).__name__ == "BitmapMasks":
        import torch

        return torch.from_numpy(value.masks.copy())
    return value


def is_samples(value: Any) -> bool:
    """Whether ``value`` is a list of data samples (the head's ``batch_data_samples``)."""
    return isinstance(value, list) and bool(value) and all(hasattr(v, "metainfo") for v in value)


class NotPlain(TypeError):
    """A value that has no plain form (``--save-batch`` cannot write it)."""


def to_plain(value: Any, copy: bool = True) -> Any:
    """``value`` as tensors (detached, on the CPU; copies unless ``copy`` is False and they are
    already there), lists, tuples, dicts, numbers and strings; a ConfigDict as a dict; anything
    else raises :class:`NotPlain`."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=copy)
    if is_samples(value):
        return [plain_sample(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, copy) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [to_plain(v, copy) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise NotPlain(f"a {type(value).__name__} has no plain form")

"""LT118 num-classes-mismatch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from msgspec import Struct

from losstune.config import origin_at
from losstune.keypath import Path, format_path
from losstune.model import Diagnostic, Origin, Related
from losstune.rules.base import Context, Example, Rule
from losstune.words import count

# The heads of a detector (the dict holding them) that classify its objects: each has as many
# classes as the others. MMYOLO's heads keep the count in `head_module`, and its assigners in
# `train_cfg` need it too. RPN heads (`rpn_head`) and semantic heads (`semantic_head.num_classes`:
# 183 COCO-stuff classes in HTC beside 80 object classes) count other things.
_DETECTOR_HEADS = ("bbox_head", "mask_head", "segm_head")
_ROI_HEADS = ("bbox_head", "mask_head", "mask_iou_head", "point_head", "glbctx_head")
_PANOPTIC_HEADS = ("panoptic_head", "panoptic_fusion_head", "semantic_head")
_ASSIGNERS = ("assigner", "initial_assigner")

# The registries whose heads count classes as MMDetection's do (MMYOLO and MMRotate build on them);
# MMDetection3D's do not (PointRCNNBboxHead scores one class-agnostic box whatever the classes).
_REGISTRIES = frozenset(("mmdet", "mmyolo", "mmrotate"))

# Heads whose `num_classes` is not the number of the dataset's classes: Grounding DINO's is the
# longest text its classifier scores (256 tokens), whatever the classes are.
_TEXT_HEADS = frozenset(("GroundingDINOHead", "ATSSVLFusionHead"))

# The dataloaders whose dataset feeds the model (3.x) and MMDetection 2.x's `data` sections.
_DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
_DATA_SPLITS = ("train", "val", "test")


class Count(Struct, frozen=True):
    """One stated number of classes: where (its key path and origin) and how many."""

    key: str
    count: int
    origin: Origin | None
    dataset: bool = False

    def said(self) -> str:
        return (
            f"`{self.key}` has {count(self.count, 'class name')}" if self.dataset else f"`{self.key}` is {self.count}"
        )


class NumClassesMismatch(Rule):
    """The heads of a model, or the model and its dataset, do not have the same number of classes.

    Every head that classifies the objects of a detector has ``num_classes`` of its own: the bbox
    head, each stage of a cascade, the mask head, the mask IoU and point heads, the things classes of
    a panoptic head and its fusion head (MMYOLO's ``head_module`` and its assigners); and the
    dataset names its classes in ``metainfo.classes`` (2.x: ``classes``). A config that changes one
    of them (a child for a dataset of 5 classes that sets the bbox head's ``num_classes`` but not the
    mask head's) trains heads of different widths on labels they cannot all hold: MMDetection's
    ``NumClassCheckHook`` asserts at the first epoch that each head's ``num_classes`` is the number
    of the dataset's classes (mmdetection#8734), and without it the first iteration fails with an
    index error or the heads silently disagree.

    Only counts the config states are compared, in the heads of MMDetection, MMYOLO and MMRotate
    (MMDetection3D's PointRCNNBboxHead scores one class-agnostic box). RPN heads, semantic heads (HTC's 183 stuff
    classes), a panoptic model's stuff classes against its things classes, and heads whose
    ``num_classes`` is a text length (Grounding DINO's 256) are not compared; a panoptic dataset
    names things and stuff classes. Losses with a class count of their own are LT115's and LT109's.
    The finding is at the count written last (a child's line), the other one as related location.
    """

    code = "LT118"
    name = "num-classes-mismatch"
    valid = (
        Example(
            "model = dict(rpn_head=dict(type='RPNHead', num_classes=1),\n"
            "    roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=5),\n"
            "        mask_head=dict(type='FCNMaskHead', num_classes=5),\n"
            "        semantic_head=dict(type='FusedSemanticHead', num_classes=183)))\n"
            "train_dataloader = dict(dataset=dict(metainfo=dict(classes=('a', 'b', 'c', 'd', 'e'))))\n"
        ),
        Example(
            "model = dict(panoptic_head=dict(type='Mask2FormerHead', num_things_classes=80, num_stuff_classes=53),\n"
            "    panoptic_fusion_head=dict(type='MaskFormerFusionHead', num_things_classes=80, num_stuff_classes=53))\n"
        ),
        # MMDetection3D's heads count classes otherwise
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(type='PointRCNNBboxHead', num_classes=1)))\n"
            "default_scope = 'mmdet3d'\n"
            "train_dataloader = dict(dataset=dict(metainfo=dict(classes=['Pedestrian', 'Cyclist', 'Car'])))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=[dict(type='Shared2FCBBoxHead', num_classes=5),\n"
            "    dict(type='Shared2FCBBoxHead', num_classes=80)],\n"
            "    mask_head=dict(type='FCNMaskHead', num_classes=5)))\n",
            ((2, 48),),
        ),
        Example(
            "_base_ = './base.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=5)))\n",
            ((2, 55),),
            bases=(
                (
                    "base.py",
                    "model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=80),\n"
                    "    mask_head=dict(type='FCNMaskHead', num_classes=80)))\n",
                ),
            ),
        ),
        Example(
            "_base_ = './base.py'\ntrain_dataloader = dict(dataset=dict(metainfo=dict(classes=('cat',))))\n",
            ((2, 60),),
            bases=(("base.py", "model = dict(bbox_head=dict(type='RetinaHead', num_classes=80))\n"),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        tree = ctx.config.tree
        for path, detector in ctx.config.dict_nodes():
            if (
                path[0] != "model"
                or detector.keys().isdisjoint(_GROUP_KEYS)  # most dicts: told apart without a loop
                or not any(isinstance(detector.get(k), (dict, list)) for k in _GROUP_KEYS)
                or any(isinstance(p, str) and p.endswith("_head") for p in path[1:])
            ):
                continue  # not a detector (a roi_head holds heads too, but is one of its detector's)
            things, stuff = _head_counts(ctx, path, detector)
            reference = _reference(ctx, things)
            if reference is not None:
                yield from self._disagreeing(ctx, reference, things)
            if path[-1] == "model" or path == ("model", "detector"):
                if reference is None or stuff or _text_head(detector):
                    continue
                datasets = list(_dataset_counts(tree))
                if datasets:
                    ref = _reference(ctx, [reference, *datasets])
                    assert ref is not None
                    yield from self._disagreeing(ctx, ref, [reference, *datasets])

    def _disagreeing(self, ctx: Context, ref: Count, counts: list[Count]) -> Iterator[Diagnostic]:
        for c in counts:
            if c.count == ref.count or c.origin is None or ref.origin is None:
                continue
            here, there = (c, ref) if c.origin.span.file == ref.origin.span.file else (ref, c)
            assert here.origin is not None and there.origin is not None
            fix = (
                f"set `{c.key}={ref.count}`"
                if not c.dataset
                else f"set the heads' `num_classes` to {c.count}, or give `{c.key}` {ref.count} class names"
            )
            if here is ref and ref.dataset:
                fix = f"set `{c.key}={ref.count}`"
            yield self.finding(
                f"{here.said()} but {there.said()} (at {ctx.place(there.origin)}): every head of a model has "
                "the same number of classes as the others and as its dataset (NumClassCheckHook asserts it "
                "at the first epoch)",
                here.origin,
                key=here.key,
                fix=fix,
                files=(there.origin.span.file,),
                related=(Related(there.origin.span, there.said()),),
            )


_GROUP_KEYS = ("roi_head", *_DETECTOR_HEADS, *_PANOPTIC_HEADS)


def _head_counts(ctx: Context, path: Path, detector: dict[Any, Any]) -> tuple[list[Count], list[Count]]:
    """The object-class and stuff-class counts the heads of ``detector`` (at ``path``) state."""
    tree = ctx.config.tree
    things: list[Count] = []
    stuff: list[Count] = []

    def known(where: Path, head: dict[Any, Any]) -> bool:
        t = head.get("type")
        return isinstance(t, str) and ctx.resolve(t, where).registry in _REGISTRIES

    def add(where: Path, value: Any, name: str, into: list[Count]) -> None:
        n = value.get(name) if isinstance(value, dict) else None
        if isinstance(n, int) and not isinstance(n, bool):
            full = (*where, name)
            into.append(Count(format_path(full), n, origin_at(tree, full)))

    def heads(where: Path, value: Any) -> Iterator[tuple[Path, dict[Any, Any]]]:
        if isinstance(value, dict):
            yield where, value
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, dict):
                    yield (*where, i), v

    for key in _DETECTOR_HEADS:
        for where, head in heads((*path, key), detector.get(key)):
            if not known(where, head):
                continue
            add(where, head, "num_classes", things)
            add((*where, "head_module"), head.get("head_module"), "num_classes", things)
    roi = detector.get("roi_head")
    if isinstance(roi, dict):
        for key in _ROI_HEADS:
            for where, head in heads((*path, "roi_head", key), roi.get(key)):
                if known(where, head):
                    add(where, head, "num_classes", things)
    for key in _PANOPTIC_HEADS:
        for where, head in heads((*path, key), detector.get(key)):
            if not known(where, head):
                continue
            add(where, head, "num_things_classes", things)
            add(where, head, "num_stuff_classes", stuff)
    train_cfg = detector.get("train_cfg")
    if isinstance(train_cfg, dict) and things:
        for key in _ASSIGNERS:
            add((*path, "train_cfg", key), train_cfg.get(key), "num_classes", things)
    return things, stuff


def _text_head(detector: dict[Any, Any]) -> bool:
    head = detector.get("bbox_head")
    t = head.get("type") if isinstance(head, dict) else None
    return isinstance(t, str) and t.rpartition(".")[2] in _TEXT_HEADS


def _dataset_counts(tree: Any) -> Iterator[Count]:
    """The number of classes each dataset of the config names (``metainfo.classes``; 2.x's
    ``classes``), through dataset wrappers."""
    roots: list[tuple[Path, Any]] = []
    for k in _DATALOADERS:
        loader = tree.get(k)
        if isinstance(loader, dict):
            roots.append(((k, "dataset"), loader.get("dataset")))
    data = tree.get("data")
    if isinstance(data, dict):
        roots += [(("data", k), data.get(k)) for k in _DATA_SPLITS]
    seen: set[int] = set()
    while roots:
        where, ds = roots.pop(0)
        if isinstance(ds, list):
            roots += [((*where, i), d) for i, d in enumerate(ds)]
            continue
        if not isinstance(ds, dict) or id(ds) in seen:
            continue
        seen.add(id(ds))
        for inner in ("dataset", "datasets"):
            if inner in ds:
                roots.append(((*where, inner), ds[inner]))
        meta = ds.get("metainfo")
        classes, at = (meta.get("classes"), (*where, "metainfo", "classes")) if isinstance(meta, dict) else (None, ())
        if classes is None and "classes" in ds:
            classes, at = ds["classes"], (*where, "classes")
        if isinstance(classes, (list, tuple)) and classes and all(isinstance(c, str) for c in classes):
            yield Count(format_path(at), len(classes), origin_at(tree, at), dataset=True)


def _reference(ctx: Context, counts: list[Count]) -> Count | None:
    """The count the others are compared with: the one written nearest to the config linted (a
    child's), the most frequent of those written in that file."""
    nearest = ctx.nearest(*(c.origin for c in counts))
    if nearest is None:
        return None
    same = [c for c in counts if c.origin is not None and c.origin.span.file == nearest.span.file]
    common = Counter(c.count for c in same).most_common(1)[0][0]
    return next(c for c in same if c.count == common)

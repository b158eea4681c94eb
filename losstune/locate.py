"""Find every loss and bbox sampler in a resolved config, and pair each loss with its sampler.

A loss is a dict whose ``type`` is a known MMDetection loss, or any dict with a ``type`` under a
key with a ``loss`` part (``loss_cls``, ``loss_bbox``, ``initial_loss_cls``...), wherever it sits: under ``model``,
under a top-level ``detector``, inside a list of cascade heads. The sampler that feeds a loss
follows MMDetection's heads: ``rpn_head`` uses ``train_cfg.rpn.sampler``, ``roi_head.bbox_head[i]``
uses ``train_cfg.rcnn[i].sampler``, and a dense head uses ``train_cfg.sampler`` or, without one,
a ``PseudoSampler``. ``train_cfg`` is the nearest one above the head (``model.train_cfg`` in 3.x,
the top-level one in old 2.x configs). Dataset samplers (``train_dataloader.sampler``) are not
bbox samplers.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from losstune.keypath import Path, format_path, get, walk_dicts
from losstune.model import Origin
from losstune.schema.catalogue import BBOX_SAMPLER_TYPES, LOSS_TYPES, bare_type


class SamplerRef(Struct, frozen=True):
    """The bbox sampler that feeds a loss. ``path`` is ``None`` for the implicit default, and
    ``place`` is then where it would be written (the head's ``train_cfg.sampler``)."""

    path: Path | None
    type: str
    params: dict[str, Any]
    origin: Origin | None
    default: bool = False
    place: Path | None = None

    @property
    def key(self) -> str | None:
        """The dotted key path of the sampler dict, if it is written in the config."""
        return format_path(self.path) if self.path is not None else None


class LossNode(Struct, frozen=True):
    """One loss dict of the config: where it is, its type, its parameters, its sampler."""

    path: Path
    type: str
    params: dict[str, Any]
    origin: Origin | None
    head: Path | None
    sampler: SamplerRef | None

    @property
    def key(self) -> str:
        """The dotted key path of the loss dict."""
        return format_path(self.path)


def _is_dataset_path(path: Path) -> bool:
    return any(isinstance(s, str) and (s.endswith("dataloader") or s == "data") for s in path)


def is_loss(path: Path, value: Any) -> bool:
    """Whether the dict at ``path`` configures a loss."""
    if not isinstance(value, dict):
        return False
    t = value.get("type")
    if not isinstance(t, str) or t.endswith("Cost"):
        return False
    if bare_type(t) in LOSS_TYPES:
        return not _is_dataset_path(path)
    last = path[-1] if path else ""
    # loss_cls, loss_bbox, kd_loss, initial_loss_cls (TOOD's warm-up loss)...
    return isinstance(last, str) and "loss" in last.split("_") and not _is_dataset_path(path)


def is_bbox_sampler(path: Path, value: Any) -> bool:
    """Whether the dict at ``path`` configures a bbox sampler (not a dataset sampler)."""
    if not isinstance(value, dict) or not path or path[-1] != "sampler" or _is_dataset_path(path):
        return False
    t = value.get("type")
    if not isinstance(t, str):
        return False
    return bare_type(t) in BBOX_SAMPLER_TYPES or "train_cfg" in path


def _origin_of(cfg: Any, path: Path) -> Origin | None:
    parent = get(cfg, path[:-1]) if len(path) > 1 else cfg
    origins = getattr(parent, "origins", None)
    return origins.get(path[-1]) if origins is not None else None


def _head_of(path: Path) -> Path | None:
    for i in range(len(path) - 2, -1, -1):
        step = path[i]
        if isinstance(step, str) and step.endswith("head"):
            if i + 1 < len(path) - 1 and isinstance(path[i + 1], int):
                return path[: i + 2]
            return path[: i + 1]
    return None


def _train_cfg_for(cfg: Any, head: Path) -> tuple[Path, Any] | None:
    for i in range(len(head) - 1, -1, -1):
        ancestor = get(cfg, head[:i]) if i else cfg
        if isinstance(ancestor, dict) and isinstance(ancestor.get("train_cfg"), dict):
            tc = ancestor["train_cfg"]
            if i == 0 and "type" in tc and not ({"rpn", "rcnn", "sampler", "assigner"} & set(tc)):
                return None  # a 3.x training loop, not a head's train_cfg
            return (*head[:i], "train_cfg"), tc
    return None


def _sampler_for(cfg: Any, head: Path | None) -> SamplerRef | None:
    if head is None:
        return None
    found = _train_cfg_for(cfg, head)
    steps = [s for s in head if isinstance(s, str)]
    index = head[-1] if isinstance(head[-1], int) else None
    if "rpn_head" in steps:
        stage: tuple[str | int, ...] = ("rpn",)
    elif "roi_head" in steps:
        stage = ("rcnn",)
    else:
        stage = ()
    if found is not None:
        tc_path, tc = found
        node: Any = tc
        path: Path = tc_path
        for s in stage:
            node = node.get(s) if isinstance(node, dict) else None
            path = (*path, s)
        if isinstance(node, list) and index is not None and index < len(node):
            node, path = node[index], (*path, index)
        if isinstance(node, dict) and isinstance(node.get("sampler"), dict):
            sampler = node["sampler"]
            spath = (*path, "sampler")
            return SamplerRef(spath, str(sampler.get("type")), dict(sampler), _origin_of(cfg, spath))
        if stage:
            return None
    if stage:
        return None
    # Dense heads without a configured sampler use PseudoSampler.
    owner = head[:-2] if isinstance(head[-1], int) else head[:-1]  # the dict that holds the head (or its list)
    place = (*found[0], "sampler") if found is not None else (*owner, "train_cfg", "sampler")
    return SamplerRef(None, "PseudoSampler", {}, None, default=True, place=place)


def locate_losses(cfg: Any, nodes: list[tuple[Path, Any]] | None = None) -> list[LossNode]:
    """Every loss in ``cfg``, in the order the config lists them (``nodes``: ``walk(cfg)``, or the
    dicts among it, when the caller has them already)."""
    out: list[LossNode] = []
    for path, value in walk_dicts(cfg) if nodes is None else nodes:
        if is_loss(path, value):
            head = _head_of(path)
            out.append(
                LossNode(
                    path=path,
                    type=str(value["type"]),
                    params={k: v for k, v in value.items() if k != "type"},
                    origin=_origin_of(cfg, path),
                    head=head,
                    sampler=_sampler_for(cfg, head),
                )
            )
    return out


def locate_samplers(cfg: Any, nodes: list[tuple[Path, Any]] | None = None) -> list[SamplerRef]:
    """Every bbox sampler written in ``cfg``."""
    return [
        SamplerRef(path, str(value.get("type")), dict(value), _origin_of(cfg, path))
        for path, value in (walk_dicts(cfg) if nodes is None else nodes)
        if is_bbox_sampler(path, value)
    ]

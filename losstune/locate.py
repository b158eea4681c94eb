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
    # the head class whose own code computes this loss (SSDHead's loss_cls): no loss dict of the
    # config is at ``path``, the key its term has in the training log
    by_head: str | None = None

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
    if t.rpartition(".")[2] in LOSS_TYPES:  # bare_type(t), without a call for every dict
        return not _is_dataset_path(path)
    last = path[-1] if path else ""
    # loss_cls, loss_bbox, kd_loss, initial_loss_cls (TOOD's warm-up loss)...; most keys have no
    # `loss` at all, told without splitting them
    return isinstance(last, str) and "loss" in last and "loss" in last.split("_") and not _is_dataset_path(path)


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


class InHeadLoss(Struct, frozen=True):
    """A loss a head computes in its own code, with no loss dict of the config: its key in the
    head's loss dict, the loss module that computes what the code does (``type``, ``params``), the
    module's parameters the code takes from the head's ``train_cfg`` (parameter -> key there), and
    the other ``train_cfg`` keys the code reads for it (``uses``, key -> what it does)."""

    name: str
    type: str
    params: dict[str, Any]
    reads: dict[str, str]
    uses: dict[str, str] = {}
    # a loss module the head builds from its class's default where the config writes no dict for it
    # (MaskIoUHead's loss_iou), not its own code; a dict the config writes is the config's loss
    default: bool = False
    built_by: str = ""  # where the default is written, where not the head's class (DDQAuxLoss's)
    code: str = "loss_by_feat_single"  # where and how the head's code computes it, in words
    head_reads: dict[str, str] = {}  # the module's parameters the code takes from the head's own keys


_SSD_LOSSES = (
    # loss_by_feat_single: F.cross_entropy(reduction='none') × label_weights, the positives and the
    # hard negatives summed, ÷ avg_factor; smooth_l1_loss(beta=train_cfg['smoothl1_beta'], avg_factor)
    InHeadLoss(
        "loss_cls",
        "CrossEntropyLoss",
        {"use_sigmoid": False, "loss_weight": 1.0},
        {},
        {"neg_pos_ratio": "the negatives of highest loss summed per positive (hard negative mining)"},
    ),
    InHeadLoss("loss_bbox", "SmoothL1Loss", {"loss_weight": 1.0}, {"beta": "smoothl1_beta"}),
)

# Head class (MMDetection 3.3.0, dense_heads/ and roi_heads/) -> the losses its own code computes,
# or that it builds from its class's default where the config writes none.
IN_HEAD_LOSSES: dict[str, tuple[InHeadLoss, ...]] = {
    "SSDHead": _SSD_LOSSES,
    "PISASSDHead": _SSD_LOSSES,
    # MaskIoUHead.__init__: loss_iou=dict(type='MSELoss', loss_weight=0.5)
    "MaskIoUHead": (InHeadLoss("loss_iou", "MSELoss", {"loss_weight": 0.5}, {}, default=True),),
    # DDQDETRHead.__init__ builds DDQAuxLoss(), whose defaults these are, for its dense queries
    "DDQDETRHead": (
        InHeadLoss(
            "aux_loss_cls",
            "QualityFocalLoss",
            {"use_sigmoid": True, "activated": True, "beta": 2.0, "loss_weight": 1.0},
            {},
            default=True,
            built_by="DDQAuxLoss",
        ),
        InHeadLoss("aux_loss_bbox", "GIoULoss", {"loss_weight": 2.0}, {}, default=True, built_by="DDQAuxLoss"),
    ),
    # YOLACTProtonet.loss_by_feat: F.binary_cross_entropy of the cropped mask probabilities ×
    # loss_mask_weight, what CrossEntropyLoss(use_sigmoid=True) computes on their logits
    "YOLACTProtonet": (
        InHeadLoss(
            "loss_mask",
            "CrossEntropyLoss",
            {"use_sigmoid": True, "loss_weight": 1.0},
            {},
            code=(
                "loss_by_feat: F.binary_cross_entropy of each positive's cropped mask × loss_mask_weight, "
                "its mean ÷ its box's share of the image's width and height, summed, ÷ the masks"
            ),
            head_reads={"loss_weight": "loss_mask_weight"},
        ),
    ),
    # RoIEmbedHead.__init__: loss_match=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    "RoIEmbedHead": (
        InHeadLoss("loss_match", "CrossEntropyLoss", {"use_sigmoid": False, "loss_weight": 1.0}, {}, default=True),
    ),
    # GlobalContextHead.loss: loss_weight × nn.BCEWithLogitsLoss()(pred, targets), the head's
    # loss_weight applied after the criterion (the head model's step 6)
    "GlobalContextHead": (
        InHeadLoss(
            "loss_glbctx",
            "CrossEntropyLoss",
            {"use_sigmoid": True, "loss_weight": 1.0},
            {},
            code="loss: nn.BCEWithLogitsLoss, then × the head's loss_weight",
        ),
    ),
}


def in_head_spec(loss: LossNode) -> InHeadLoss | None:
    """What the head's code does for ``loss``, where its head computes it (``None`` otherwise)."""
    if loss.by_head is None:
        return None
    return next((s for s in IN_HEAD_LOSSES.get(bare_type(loss.by_head), ()) if s.name == loss.path[-1]), None)


def in_head_note(loss: LossNode) -> str:
    """What a loss its head computes in its own code is, in words."""
    head = bare_type(loss.by_head or "")
    spec = in_head_spec(loss)
    if spec is not None and spec.default:
        return (
            f"{head} builds {loss.path[-1]} from {spec.built_by or 'its class'}'s default ({spec.type}, "
            f"loss_weight={spec.params.get('loss_weight', 1.0)}), "
            "the config writes no dict for it"
        )
    return (
        f"{head} computes {loss.path[-1]} in its own code ({spec.code if spec is not None else 'loss_by_feat_single'}), "
        "with no loss dict in the config: "
        "the key is its term's, the type the loss module that computes the same"
    )


def head_train_cfg(cfg: Any, head: Path) -> tuple[Path, Any] | None:
    """The ``train_cfg`` the head at ``head`` reads (its path and value): the nearest one above it."""
    return _train_cfg_for(cfg, head)


def locate_in_head_losses(cfg: Any, nodes: list[tuple[Path, Any]] | None = None) -> list[LossNode]:
    """The losses of the heads in ``cfg`` that compute them in their own code (SSDHead's), each at
    its head's key with the term's name, set where the head's ``type`` is, its parameters those
    of :data:`IN_HEAD_LOSSES` with the values the head reads from its ``train_cfg`` (left out
    where the config does not set them)."""
    out: list[LossNode] = []
    for path, value in walk_dicts(cfg) if nodes is None else nodes:
        t = value.get("type")
        if not path or not isinstance(path[-1], str) or not path[-1].endswith("head") or not isinstance(t, str):
            continue
        losses = IN_HEAD_LOSSES.get(bare_type(t))
        if losses is None or is_loss(path, value):
            continue
        found = _train_cfg_for(cfg, path)
        train = found[1] if found is not None else {}
        for loss in losses:
            if loss.default and isinstance(value.get(loss.name), dict):
                continue  # the config's own dict: among the config's losses
            params = dict(loss.params)
            for name, key in loss.reads.items():
                if key in train:
                    params[name] = train[key]
            for name, key in loss.head_reads.items():
                if key in value:
                    params[name] = value[key]
            origin = _origin_of(cfg, (*path, "type"))
            out.append(LossNode((*path, loss.name), loss.type, params, origin, path, _sampler_for(cfg, path), t))
    return out


def locate_samplers(cfg: Any, nodes: list[tuple[Path, Any]] | None = None) -> list[SamplerRef]:
    """Every bbox sampler written in ``cfg``."""
    return [
        SamplerRef(path, str(value.get("type")), dict(value), _origin_of(cfg, path))
        for path, value in (walk_dicts(cfg) if nodes is None else nodes)
        if path and path[-1] == "sampler" and is_bbox_sampler(path, value)  # most dicts: without a call
    ]

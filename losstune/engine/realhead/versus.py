"""The head model held against MMDetection's own head on one config: for each term of the loss dict
the real head returns on a seeded synthetic batch, what the head model says of it (the rows handed
to the loss module and their width, the avg_factor, the division afterwards, the value) beside what
the real head did. The model's avg_factor and division rules are counted from the real head's own
positives, negatives and weights, so that a rule is held against the head's code whatever the
batch; the values are compared at the real head's number of priors, on the model's own inputs."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from losstune.engine.confignum import config_int
from losstune.engine.headmodel import Counts, family_of, logged_rule
from losstune.engine.heads_autoassign import AUTO_ASSIGN
from losstune.engine.heads_ddod import DDOD_HEAD
from losstune.engine.heads_freeanchor import FREE_ANCHOR, TERMS
from losstune.engine.heads_freeanchor import OWN_METHOD as BAG_METHOD
from losstune.engine.heads_fsaf import REWEIGHT_METHOD
from losstune.engine.heads_grounding import GROUNDING_HEAD
from losstune.engine.heads_mask2former_track import FRAME_ROWS, TRACK_HEAD
from losstune.engine.heads_masktrack import class_labelled_rpn, match_logits
from losstune.engine.heads_yolact import PROTONET
from losstune.engine.realhead.batch import BatchSpec, reference_boxes
from losstune.engine.realhead.run import HeadRun, run_head

if TYPE_CHECKING:
    from losstune.config import LoadedConfig
    from losstune.engine.realhead.record import Call

RTOL = 1e-4
VALUE_FACTOR = 2.0  # values on different inputs "agree" within this factor


@dataclass
class RealFeed:
    """What MMDetection's head handed one term's loss module, over its calls: the prediction's rows
    per image and width, the avg_factor of its first call (``None``: none passed), the counts, and
    the factor the head applied afterwards."""

    calls: int
    rows: float
    width: tuple[int, ...]
    avg: float | None
    counts: Counts
    scale: float | None
    value: float
    first: Counts | None = None  # the first call's own counts
    modules: tuple[str, ...] = ()  # the loss modules that made the calls (``bbox_head.loss_cls``)


@dataclass
class TermCheck:
    """One term: the real head's feed, the model's, and how they differ (``why``; empty: agree)."""

    term: str
    key: str
    family: str | None
    real: RealFeed
    model_rows: int = 0
    model_width: tuple[int, ...] = ()
    model_avg: float | None = None
    model_value: float = 0.0
    rule_avg: float | None = None  # the model's avg_factor rule counted on the real head's counts
    rule_scale: float | None = None  # the model's divisor rule counted alike (as a factor)
    model_scale: float | None = None
    approximate: bool = False
    replayed: float | None = None  # the model's term on the arguments the head's own code was given
    why: list[str] = field(default_factory=list)
    shape_ok: bool = True
    avg_ok: bool = True
    scale_ok: bool = True
    value_ok: bool = True


@dataclass
class HeadCheck:
    """A config's terms held against its real head (``skipped``: terms the model does not evaluate)."""

    head_type: str | None
    family: str | None
    terms: list[TermCheck]
    skipped: dict[str, str] = field(default_factory=dict)
    phase: str = ""  # the phase of the head's training compared, for a head whose losses follow the epoch
    others: tuple[tuple[str, int], ...] = ()  # the other phases, each with an epoch of it
    stood_in: list[str] = field(default_factory=list)  # the compiled ops the run computed otherwise
    one_process: str = ""  # the synchronised norm layers built as one process's BatchNorm (run.one_process)
    idle: list[str] = field(default_factory=list)  # losses the head does not call in this phase
    compared_on: str = ""  # what the real head's side was read from, where not its loss modules' calls


def _bound(module: Any, call: Call) -> dict[str, Any]:
    """A call's arguments by name, those a ``**kwargs`` takes among them (GHM's avg_factor)."""
    signature = inspect.signature(module.forward)
    try:
        bound = signature.bind(*call.args, **call.kwargs).arguments
    except TypeError:
        return {f"arg{i}": a for i, a in enumerate(call.args)} | dict(call.kwargs)
    out: dict[str, Any] = {}
    for name, v in bound.items():
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(v)
        else:
            out[name] = v
    return out


def _head_of(run: HeadRun, call: Call) -> Any:
    """The module whose loss module made ``call`` (the head: ``bbox_head`` of ``bbox_head.loss_cls``)."""
    parent = call.module.rpartition(".")[0]
    return run.model.get_submodule(parent) if parent else run.model


def _contrastive_rows(run: HeadRun, index: int, bound: dict[str, Any]) -> dict[str, Any]:
    """A call of GroundingDINOHead's classification, whose logits of the prompt's text tokens the
    head hands the module flattened (``masked_select`` by the text token mask: images × queries ×
    tokens), read as rows: each query's tokens a row, and as labels each query's positive mark
    (0 for a positive, -1 for a negative), taken from the box weights of the call that follows of
    the same head (``loss_by_feat_single`` calls its box losses on the same queries next), since a
    positive whose class's tokens the prompt's truncation cut off has a target of zeros. Any other
    call, or one whose images' prompts differ in length, as it is."""
    import torch

    call = run.recorded[index]
    head = _head_of(run, call)
    pred, masks = next(iter(bound.values()), None), getattr(head, "text_masks", None)
    if type(head).__name__ != GROUNDING_HEAD or not isinstance(pred, torch.Tensor) or pred.dim() != 1:
        return bound
    if not isinstance(masks, torch.Tensor) or masks.dim() != 2:
        return bound
    tokens = {int(n) for n in masks.bool().sum(1)}
    if len(tokens) != 1 or not tokens or pred.numel() % max(tokens) or not max(tokens):
        return bound
    width = tokens.pop()
    rows = pred.numel() // width
    parent = call.module.rpartition(".")[0]
    for later in run.recorded[index + 1 :]:
        if later.module.rpartition(".")[0] != parent or later.module == call.module:
            continue
        w = _weight(_bound(run.model.get_submodule(later.module), later))
        if w is not None and w.dim() == 2 and w.shape[0] == rows:
            first, second = list(bound)[:2]
            rowed = {first: pred.view(rows, width), second: torch.where(w.sum(1) > 0, 0, -1)}
            return bound | rowed | {"weight": torch.ones(rows)}
        break
    return bound


def _boxed_rows(run: HeadRun, index: int, bound: dict[str, Any]) -> dict[str, Any]:
    """A classification call whose labels are not its positives' (a MaskTrack R-CNN's RPN, handed
    its boxes' classes: a positive of class 1 is labelled as the background), with the rows that
    the next call of the same head's ``loss_bbox`` weights (the same level's anchors) labelled 0,
    its positives; any other call, or one of no such box call, as it is."""
    import torch

    call = run.recorded[index]
    parent = call.module.rpartition(".")[0]
    if not call.module.endswith("loss_cls"):
        return bound
    later = next((c for c in run.recorded[index + 1 :] if c.module == f"{parent}.loss_bbox"), None)
    names = list(bound)
    if later is None or len(names) < 2:
        return bound
    w = _weight(_bound(run.model.get_submodule(later.module), later))
    labels = bound[names[1]]
    if w is None or w.dim() != 2 or not isinstance(labels, torch.Tensor) or w.shape[0] != labels.shape[0]:
        return bound
    return bound | {names[1]: torch.where(w.sum(1) > 0, torch.zeros_like(labels), labels)}


def _labels(target: Any) -> Any:
    """The class labels in a call's target (a tuple's first, for the quality focal losses)."""
    import torch

    if isinstance(target, (tuple, list)) and target:
        target = target[0]
    if isinstance(target, torch.Tensor) and target.dim() == 1 and not target.is_floating_point():
        return target
    return None


def _scores(target: Any) -> Any:
    """The soft scores of a quality focal loss's target (labels, scores), else ``None``."""
    if isinstance(target, (tuple, list)) and len(target) == 2 and target[1].is_floating_point():
        return target[1]
    return None


def _weight(bound: dict[str, Any]) -> Any:
    """The element-wise weight of a call (``label_weight`` to the GHM losses)."""
    import torch

    w = bound.get("weight", bound.get("label_weight"))
    return w if isinstance(w, torch.Tensor) else None


def _per_image(mask: Any, images: int) -> list[int]:
    """Counts of ``mask`` in each image's equal, contiguous share of the rows (heads flatten
    ``(images, priors)``)."""
    n = mask.numel()
    if images <= 0 or n % images:
        return [int(mask.sum())]
    return [int(m.sum()) for m in mask.view(images, -1)]


@dataclass
class _Tally:
    """Counts of one term's calls as they are summed; ``split``: whether the positives could be
    told apart per image (a call on the positives only cannot say which image each is from)."""

    pos: list[int]
    neg: list[int]
    split: bool = True
    weights: float = 0.0

    def add(self, positive: Any, negative: Any, *, split: bool = True) -> None:
        images = len(self.pos)
        p, n = _per_image(positive, images), _per_image(negative, images)
        if not split or len(p) != images:
            p, n = [int(positive.sum())], [int(negative.sum())]
            self.split = False
            p, n = [*p, *[0] * (images - 1)], [*n, *[0] * (images - 1)]
        self.pos = [a + b for a, b in zip(self.pos, p, strict=True)]
        self.neg = [a + b for a, b in zip(self.neg, n, strict=True)]


def _flattened(bound: dict[str, Any], images: int) -> dict[str, Any]:
    """A call on ``(images, priors, …)`` maps with its tensors as rows, ``(images × priors, …)``."""
    import torch

    def rows(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[0] == images:
            return v.reshape(images * v.shape[1], *v.shape[2:])
        return v

    return {k: rows(v) for k, v in bound.items()}


def _add_call(
    tally: _Tally, bound: dict[str, Any], num_classes: int, maps: bool = False, per_image: bool = False
) -> tuple[int, tuple[int, ...]]:
    """Count one call into ``tally``: its positives and negatives (from the labels where it has
    them, an objectness target, or the box weights; else every row is a positive) and the weights
    of its positives (a quality focal loss's target scores, else a weight per row; a weight
    repeated for each side of a box counted once). ``maps``: the call was made on every prior's
    maps, flattened, where a target of one value per row is an objectness target (the rows its
    weight masks out are neither); ``per_image``: the call's rows are its images' in turn, so that
    its box weights tell each image's positives. Returns its rows and the prediction's width."""
    import torch

    values = list(bound.values())
    pred = values[0] if values and isinstance(values[0], torch.Tensor) else None
    if pred is None:
        return 0, ()
    target = values[1] if len(values) > 1 else None
    rows = int(pred.shape[0]) if pred.dim() else 1
    labels, w, scores = _labels(target), _weight(bound), _scores(target)
    all_rows = torch.ones(rows, dtype=torch.bool)
    pos_inds = bound.get("pos_inds", ())  # None where the head has no positive to give
    if "pos_inds" in bound and pos_inds is None:
        pos_inds = torch.zeros(0, dtype=torch.long)
    match = bound.get("match")
    if isinstance(match, list) and len(match) == len(tally.pos):  # corner pairs: each image's objects
        tally.pos = [p + len(m) for p, m in zip(tally.pos, match, strict=True)]
        return rows_of(pred, target), width_of(pred)
    if target is not None and is_map(pred, target):
        # a map's positives: the pixels its weight marks (a weight of the map's shape, or of one
        # channel for all), else its Gaussian target's peaks
        masks = w is not None and w.dim() == 4 and w.shape[1] in (1, pred.shape[1])
        positive = (
            (w > 0).any(1) if masks and w.shape[0] == pred.shape[0] and w.shape[2:] == pred.shape[2:] else target.eq(1)
        )
        tally.add(positive, ~(positive.any(1) if positive.dim() == 4 else positive))
        return rows_of(pred, target), width_of(pred)
    if isinstance(pos_inds, torch.Tensor):  # the positives given by index, in the head's own order
        others = max(rows - len(set(pos_inds.tolist())), 0)
        tally.add(torch.ones(pos_inds.numel(), dtype=torch.bool), torch.ones(others, dtype=torch.bool), split=False)
        return rows, width_of(pred)
    if labels is not None:
        positive = (labels >= 0) & (labels < num_classes)
        labelled = w > 0 if w is not None and w.shape == labels.shape else torch.ones_like(positive)
        tally.add(positive, labelled & ~positive)
    elif isinstance(target, torch.Tensor) and target.shape == pred.shape and _one_per_row(pred, maps):
        positive = target.reshape(rows) > 0  # an objectness target: 1 at the positives
        labelled = w.reshape(rows) > 0 if w is not None and w.numel() == rows else torch.ones_like(positive)
        tally.add(positive, labelled & ~positive)
    elif _marked_row(pred, target, w):
        positive = w > 0  # one value a row, its weight 1 at the positives (DDODHead's IoU logits)
        tally.add(positive, ~positive)
    elif w is not None and w.dim() == 2 and w.shape[0] == rows:
        # the box weights mark the positives; which of the others are sampled negatives they do
        # not say (the labelled term of the same assignment does)
        positive = w.sum(1) > 0
        tally.add(positive, ~positive, split=per_image)
    elif (soft := _soft_positives(pred, target)) is not None:
        # a soft target of every class (VFNetHead's IoU targets, clamped above 0): a positive's row
        # holds its IoU at its label, every other row is 0; the rows are level-major, not per image
        tally.add(soft, ~soft, split=False)
    else:  # a call on the positives only
        tally.add(all_rows, ~all_rows, split=False)
    if scores is not None:
        tally.weights += float(scores.sum())
    elif w is not None and w.dim() == 1 and w.numel() == rows:
        repeated = rows % 4 == 0 and rows > 0 and bool((w.view(-1, 4) == w.view(-1, 4)[:, :1]).all())
        tally.weights += float(w.sum()) / (4 if repeated and pred.dim() == 2 and pred.shape[1] > 4 else 1)
    return rows, width_of(pred)


def _add_tokens(tally: _Tally, bound: dict[str, Any], tokens: int) -> tuple[int, tuple[int, ...]]:
    """Count one call of a prior's logits over ``tokens`` text tokens, flattened, image after image
    (GLIP's ``loss_cls``) into ``tally``: a positive is a prior whose targets hold a token, a
    negative one of a label weight and none. Returns its rows (the priors) and width (the tokens)."""
    values = list(bound.values())
    pred, target = values[0], values[1]
    rows = int(pred.numel()) // tokens
    positive = target.reshape(rows, tokens).sum(1) > 0
    w = _weight(bound)
    labelled = (w.reshape(rows, tokens) > 0).any(1) if w is not None else positive.new_ones(rows)
    tally.add(positive, labelled & ~positive)
    return rows, (tokens,)


def _marked_row(pred: Any, target: Any, w: Any) -> bool:
    """Whether a call hands one value a row (``(rows,)``) against a target of its shape, with a
    weight of that shape that is 0 somewhere: the weight marks the positives."""
    shape = getattr(pred, "shape", None)
    return bool(
        pred.dim() == 1
        and getattr(target, "shape", None) == shape
        and w is not None
        and w.shape == shape
        and bool((w == 0).any())
    )


def _soft_positives(pred: Any, target: Any) -> Any:
    """The rows above 0 of a call's target where it is a soft score of every class: of the
    prediction's ``(rows, C)`` shape, in [0, 1], at most one class above 0 a row (not a box's
    deltas, as PISA's CARL's); else ``None``."""
    import torch

    if not (isinstance(target, torch.Tensor) and target.is_floating_point() and target.shape == pred.shape):
        return None
    above = target > 0
    if pred.dim() != 2 or not bool(((target >= 0) & (target <= 1)).all() and (above.sum(1) <= 1).all()):
        return None
    return above.any(1)


def _one_per_row(pred: Any, maps: bool) -> bool:
    """Whether a prediction is one value per row: ``(rows, 1)``, or ``(rows,)`` from maps."""
    return (pred.dim() == 2 and pred.shape[1] == 1) or (maps and pred.dim() == 1)


def is_map(pred: Any, target: Any) -> bool:
    """Whether a call hands a whole map (``N×C×H×W`` against a target of its shape)."""
    shape = getattr(target, "shape", None)
    return bool(getattr(pred, "dim", lambda: 0)() == 4 and shape == pred.shape)


def rows_of(pred: Any, target: Any) -> int:
    """A prediction's rows: a map's every pixel of each image, else its first dimension."""
    if is_map(pred, target):
        return int(pred.shape[0] * pred.shape[2] * pred.shape[3])
    return int(pred.shape[0]) if pred.dim() else 1


def width_of(pred: Any) -> tuple[int, ...]:
    """A prediction's width: its shape after the rows; a map's (``N×C×H×W``) its channels only,
    its size following the image's."""
    return tuple(int(d) for d in pred.shape[1 : 2 if pred.dim() == 4 else None])


def real_feed(
    run: HeadRun,
    indices: list[int],
    num_classes: int,
    maps: bool = False,
    name: str | None = None,
    per_image: bool = False,
    image_calls: bool = False,
    tokens: int = 0,
    match: bool = False,
    boxed: bool = False,
) -> tuple[RealFeed, bool]:
    """The real head's feed of one term (``name``, where several terms are made of the same calls:
    AssociativeEmbeddingLoss's pull and push), from its recorded calls ``indices`` (``maps``: made
    on ``(images, priors, …)`` maps, read as rows; ``per_image``: each call on its images' rows in
    turn; ``image_calls``: a call per image, in order, each counted as its image's; ``tokens``: each
    prior's logits over that many text tokens, flattened; ``match``: a call per video of similarity
    logits against its reference boxes, the matched RoIs its positives, as
    :func:`~losstune.engine.heads_masktrack.match_logits` reads them; ``boxed``: a classification
    call's positives are the rows its box call weights, see :func:`_boxed_rows`), and whether its
    positives are known per image."""
    import torch

    images = run.batch.images
    tally = _Tally([0] * images, [0] * images)
    rows, avg = 0, None
    width: tuple[int, ...] = ()
    first: Counts | None = None
    image_calls = image_calls and len(indices) == images
    for n, i in enumerate(indices):
        call = run.recorded[i]
        bound = _contrastive_rows(run, i, _bound(run.model.get_submodule(call.module), call))
        if maps:
            bound = _flattened(bound, images)
        if boxed:
            bound = _boxed_rows(run, i, bound)
        if match:
            second = list(bound)[1]
            bound = bound | {second: match_logits(bound[second])}
        if image_calls:  # the call's counts are its image's
            one = _Tally([0], [0])
            got, shape = _add_call(one, bound, num_classes, maps)
            tally.pos[n] += one.pos[0]
            tally.neg[n] += one.neg[0]
            tally.weights += one.weights
        elif tokens:
            got, shape = _add_tokens(tally, bound, tokens)
        else:
            got, shape = _add_call(tally, bound, num_classes, maps, per_image)
        if n == 0:
            first = Counts(tuple(tally.pos), tuple(tally.neg), got, tally.weights)
        rows += got
        width = width or shape  # the first call's: a term of a call per level (SOLO's masks) at its first level
        a = bound.get("avg_factor")
        if n == 0 and a is not None:
            avg = float(a.item() if isinstance(a, torch.Tensor) else a)
    term = next(t for t in run.terms if (t.name == name if name is not None else t.calls == indices))
    counts = Counts(tuple(tally.pos), tuple(tally.neg), rows, tally.weights)
    scale = term.scale
    outputs = [run.recorded[i].output for i in indices]
    if any(isinstance(o, torch.Tensor) and o.numel() > 1 for o in outputs):
        # per-element losses (reduction_override='none') the head reduces itself: its factor on their sum
        total = sum(float(o.detach().sum()) for o in outputs if isinstance(o, torch.Tensor))
        scale = term.value / total if total else None
    modules = tuple(dict.fromkeys(run.recorded[i].module for i in indices))
    feed = RealFeed(len(indices), rows / images, width, avg, counts, scale, term.value, first, modules)
    return feed, tally.split


def _head_path(feed: RealFeed) -> str:
    """The head whose loss modules made ``feed``'s calls (``roi_head.bbox_head.0``)."""
    return feed.modules[0].rpartition(".")[0] if feed.modules else ""


def _assignment_of(feed: RealFeed, fed: list[tuple[RealFeed, bool]]) -> RealFeed | None:
    """The term that ``feed`` is fed from, of all the head's terms ``fed`` (each with whether its
    positives are known per image): one with as many positives (the positives of one assignment
    are fed to each of its terms; a mask head's are its RoI head's), of the same head first, then
    one known per image, then the one of the most rows (the labelled term of every sampled RoI);
    where none has as many, the same head's first known per image, else the first known."""
    head = _head_path(feed)
    ranked = sorted(fed, key=lambda f: (_head_path(f[0]) != head, not f[1], -f[0].counts.rows))
    # itself only where it counts negatives (the labelled term): a call on the positives alone, or
    # on each positive's four sides (GFL's loss_dfl), is fed from another term's assignment
    found = next(
        (f for f, _ in ranked if f.counts.pos == feed.counts.pos and (f is not feed or f.counts.neg > 0)), None
    )
    if found is not None:
        return found
    return next((f for f, split in ranked if split), None)


def _per_image_from(feed: RealFeed, other: RealFeed | None) -> RealFeed:
    """``feed`` with its positives split per image as ``other``'s, where it has as many."""
    if other is not None and other is not feed and other.counts.pos == feed.counts.pos:
        counts = replace(feed.counts, positives=other.counts.positives, negatives=other.counts.negatives)
        return replace(feed, counts=counts)
    return feed


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) + 1e-7


def _kind(rows: float, positives: float, negatives: float = 0.0) -> str:
    """Which predictions a call is made on: the positives (once, or once per box side), or the
    negatives too (every sampled one, where ``negatives`` are counted: a sampler's 512 RoIs of
    128 positives are not 4 × the positives)."""
    if abs(rows - positives) < 0.5:
        return "the positives"
    if negatives > 0 and abs(rows - positives - negatives) < 0.5:
        return "the positives and negatives"
    if abs(rows - 4 * positives) < 0.5 and positives:
        return "4 × the positives"
    return "the positives and negatives" if rows > positives else f"{rows:g} rows"


def _masks_kind(rows: float, positives: float, negatives: float = 0.0) -> str:
    """Which masks a term of a call per level is handed: the positives' where there are as many,
    or more but fewer than every cell (SOLOv2 hands a mask per instance and positive cell, a cell
    two instances share twice), else as :func:`_kind` says."""
    if positives - 0.5 < rows < positives + max(negatives, 1.0) - 0.5:
        return "the positives (a mask per instance and positive cell)"
    return _kind(rows, positives, negatives)


def row_kinds(rows: float, positives: float, negatives: float = 0.0) -> tuple[str, ...]:
    """Every description of :func:`_kind` that a call's rows fit, its own first: where the
    assignment has no negatives, the positives are every sampled RoI too (an RoI head whose
    proposals are all gone samples the ground-truth boxes alone)."""
    kind = _kind(rows, positives, negatives)
    if kind == "the positives" and negatives < 0.5:
        return (kind, "the positives and negatives")
    return (kind,)


def hold(cfg: LoadedConfig, spec: BatchSpec | None = None) -> HeadCheck:
    """Run ``cfg``'s head through MMDetection on the batch ``spec`` and hold each of its terms
    against the head model, evaluated on the batch's seed at its training epoch (raises
    :class:`~losstune.engine.realhead.run.HeadFailed` where the real head does not run)."""
    from losstune.engine.session import NotCalled, evaluate_config, logged_terms

    spec = spec or BatchSpec()
    seed, epoch = spec.seed, spec.epoch
    run = run_head(cfg, spec, pure=True)
    heads = {t.name: _head_of(run, run.recorded[t.calls[0]]) for t in run.terms if t.calls}
    kinds = list(dict.fromkeys(type(h).__name__ for h in heads.values()))
    head_type = run.head_type or (kinds[0] if len(kinds) == 1 else None)
    # a two-stage detector's terms come from several heads (RPN, RoI, mask), each of its family
    families = {name: family_of(type(h).__name__) for name, h in heads.items()}
    family = family_of(head_type) if head_type is not None else _families(kinds)
    out = HeadCheck(head_type, family, [], stood_in=run.stood_in, one_process=run.one_process)
    model = cfg.tree.get("model")
    at = run.at  # the phase the head ran in, as run_head found it
    if at is not None:
        out.phase, out.others = at.phase.name, at.others
    own_checks = OWN_CHECKS.get(head_type or "")
    if run.own and run.own_method == BAG_METHOD and own_checks is not None:  # its terms: its own code
        out.family, out.terms = head_type, own_checks(cfg, run, seed)
        out.compared_on = f"the arguments of {head_type}.{run.own_method}, which computes its terms itself"
        return out
    rules = {name: logged_rule(families.get(name, family), name) for name, _ in _terms(run)}
    layout_of = {name: r.layout for name, r in rules.items()}
    # a MaskTrack R-CNN's RPN is handed its boxes' classes: its positives are the anchors its box term weights
    boxed = isinstance(model, dict) and class_labelled_rpn(model) is not None
    made = {
        name: real_feed(
            run,
            t.calls,
            rules[name].classes or getattr(heads[name], "num_classes", 80),
            layout_of[name] == "images",
            name=name,
            per_image=layout_of[name] == "level_rows",
            image_calls=layout_of[name] in ("image_calls", "match_calls"),
            tokens=_text_tokens(heads[name]) if layout_of[name] == "tokens" else 0,
            match=layout_of[name] == "match_calls",
            boxed=boxed and families[name] == "RPNHead",
        )
        for name, t in _terms(run)
    }
    made = {
        name: _counted(run, f, rules[name].counted_on) if rules[name].counted_on else (f, split)
        for name, (f, split) in made.items()
    }
    # YOLACT's OHEM: the head's term over the mined anchors' sum of its module's per-anchor losses
    made |= {
        name: (_mined(f, run, t.calls, heads[name], model if isinstance(model, dict) else {}), split)
        for name, t in _terms(run)
        for f, split in [made[name]]
        if logged_rule(families.get(name, family), name).after == "mined"
    }
    replayed: dict[str, float] = {}
    if family == DDOD_HEAD:  # each level's positives and result, as its reweighting counts them
        made = _reweighted(made, run)
    if run.own and run.own_method == REWEIGHT_METHOD:  # FSAF: the selection's positives and sums
        made = {name: (_selected(f, run, name), split) for name, (f, split) in made.items()}
        out.compared_on = (
            f"its loss modules' calls, with the positives kept and each level's sums read from "
            f"{head_type}.{run.own_method}"
        )
    elif run.own:  # a head that calls no loss module: its terms from the method that computes them
        own_made = _own_feeds(cfg, run, model if isinstance(model, dict) else {})
        made |= {name: (f, True) for name, (f, _) in own_made.items()}
        replayed = {name: r for name, (_, r) in own_made.items()}
        out.compared_on = (
            f"the arguments of {head_type}.{run.own_method}, which computes its terms (it calls no loss module)"
        )
    # each mask's points flattened (Mask2Former's loss_mask): read as masks, before the assignment is sought
    points = {name for name in made if logged_rule(families.get(name, family), name).layout == "points"}
    made = {
        name: (_per_mask(f, heads[name]), split) if name in points else (f, split) for name, (f, split) in made.items()
    }
    # a row a frame of each matched instance (Mask2FormerTrackHead's masks): its positives read as
    # the instances, before the assignment is sought; its rows compared per frame
    framed = {
        name: max(int(getattr(heads[name], "num_frames", 1)), 1)
        for name in made
        if families.get(name, family) == TRACK_HEAD and name.split(".")[-1] in FRAME_ROWS
    }
    made = {
        name: (_per_frame(f, framed[name]), split) if name in framed else (f, split)
        for name, (f, split) in made.items()
    }
    # each mask's pixels flattened (MaskFormer's loss_mask): read as masks of the image's pixels
    pixels = {name for name in made if logged_rule(families.get(name, family), name).layout == "pixels"}
    image = float(run.batch.size**2)  # the padded image, the ground-truth masks' h × w
    made = {
        name: (_per_mask_pixels(f, image), split) if name in pixels else (f, split) for name, (f, split) in made.items()
    }
    if run.mask_own:  # YOLACTProtonet's loss_mask: its own code, replayed by the model
        own_mask = _protonet_feed(cfg, run)
        if own_mask is not None:
            made["loss_mask"] = (own_mask[0], True)
            replayed["loss_mask"] = own_mask[1]
            families["loss_mask"] = PROTONET
    # a term whose rows its head selects itself (MaskIoUHead's) is its own assignment
    selects = {name for name in made if logged_rule(families.get(name, family), name).selects}
    fed_from = {
        name: f if split or name in selects else _assignment_of(f, list(made.values()))
        for name, (f, split) in made.items()
    }
    feeds = {name: f if split else _per_image_from(f, fed_from[name]) for name, (f, split) in made.items()}
    positives = {name: (fed_from[name] or f).counts for name, (f, _) in made.items()}
    layouts = {name: logged_rule(families.get(name, family), name).layout for name in feeds}
    # a term of (RoIs, C, H, W) maps (GridHead's): the model's priors are the RoIs of its first call
    roi_maps = {name: _first_rois(run, t.calls) for name, t in _terms(run) if layouts.get(name) == "roi_maps"}
    priors = max((f.rows for name, f in feeds.items() if name not in roi_maps), default=0.0)
    # a head of whole maps, a call each: the model's priors are one map's pixels
    one_map = {name: f.rows / f.calls for name, f in feeds.items() if layouts[name] == "maps"}
    # masks per level (SOLO's): the model's priors are the pixels of the largest mask map, every term's
    one_map |= {name: _mask_pixels(run, t.calls) for name, t in _terms(run) if layouts.get(name) == "levels"}
    # masks of the image's pixels (MaskFormer's): the model's priors are those pixels, every term's
    one_map |= dict.fromkeys(pixels, image)
    priors = max(one_map.values(), default=priors)
    one_map |= roi_maps
    by_name: dict[str, tuple[str, str | None]] = {}
    for loss in [*cfg.losses(), *cfg.in_head_losses()]:
        try:
            first = evaluate_config(cfg, loss.key, seed=seed, num_priors=max(int(priors), 1), epoch=epoch)
        except NotCalled:  # another loss makes its term in this phase: nothing of its own to compare
            out.idle.append(loss.key)
            continue
        except Exception as e:  # a loss the model cannot evaluate: said beside the table
            out.skipped[loss.key] = f"{type(e).__name__}: {e}"
            continue
        parts = logged_terms(first)  # the parts of one call's result are one evaluation's
        for i, name in enumerate(first.log_names or [first.log_name]):
            by_name[name] = (loss.key, None if i == 0 or name in parts else name)
    for t in run.terms:
        if not t.calls and t.name not in feeds:
            out.skipped[t.name] = _uncalled(t.name in by_name)
    for name, real in feeds.items():
        if name in out.skipped:
            continue
        if name not in by_name:
            out.skipped[name] = "no loss of the config is logged under this name by the model"
            continue
        key, term = by_name[name]
        n = one_map.get(name, priors)
        r = evaluate_config(cfg, key, seed=seed, num_priors=max(int(n), 1), term=term, epoch=epoch)
        refs = reference_boxes(run.batch.boxes) if run.batch.frames else 0
        check = _compare(name, key, r, real, families.get(name, family), positives[name], refs, framed.get(name, 1))
        check.replayed = replayed.get(name)
        out.terms.append(check)
    return out


def _text_tokens(head: Any) -> int:
    """The valid tokens of the text a head's loss was computed on (its ``text_masks``, which
    ATSSVLFusionHead keeps from the language model's output; every image's prompt is the same)."""
    masks = getattr(head, "text_masks", None)
    return int(masks[0].sum()) if masks is not None and masks.dim() == 2 else 0


def _counted(run: HeadRun, feed: RealFeed, method: str) -> tuple[RealFeed, bool]:
    """``feed`` with its positives and negatives per image those of the recorded calls of its
    head's ``method`` (an image a call, its output's ``pos_inds`` and ``neg_inds``: GuidedAnchorHead's
    ga sampling, which its loss_shape's calls, on the positives only, do not show), where recorded."""
    head = _head_path(feed)
    calls = [c for c in run.counting if c.module == head]
    if not calls:
        return feed, False
    positives = tuple(int(c.output[3].numel()) for c in calls)
    negatives = tuple(int(c.output[4].numel()) for c in calls)
    counts = Counts(positives, negatives, feed.counts.rows, feed.counts.weights)
    return replace(feed, counts=counts, first=counts), True


def _mined(feed: RealFeed, run: HeadRun, calls: list[int], head: Any, model: dict[str, Any]) -> RealFeed:
    """A term whose head sums the mined rows of its module's per-row losses (YOLACTHead's OHEM
    ``loss_cls``): its feed with the factor the head applied to the sum of the rows the model's
    mining keeps of each call's output (labels: the call's second argument), which is
    ``1 / avg_factor`` where the model mines as the head does."""
    from losstune.engine.heads_ssd import neg_pos_ratio
    from losstune.engine.heads_yolact import ohem_kept

    ratio = neg_pos_ratio(model)
    summed = 0.0
    for i in calls:
        call = run.recorded[i]
        losses = call.output.detach()
        summed += float(losses[ohem_kept(losses, call.args[1], int(head.num_classes), ratio)].sum())
    return replace(feed, scale=feed.value / summed if summed else None)


def _protonet_feed(cfg: LoadedConfig, run: HeadRun) -> tuple[RealFeed, float] | None:
    """YOLACTProtonet's ``loss_mask`` as the head's ``loss_by_feat`` was handed it: the masks kept
    per image and their size, no avg_factor, the factor the head applied to the model's sums on
    those arguments (1 / the masks kept, where the model computes as the head does), and the
    model's term on them (``None`` where the config has no such term)."""
    from losstune.engine.heads_yolact import replay_masks
    from losstune.engine.session import loss_dict

    nodes = [n for n in cfg.in_head_losses() if n.path[-1] == "loss_mask" and n.by_head == PROTONET]
    values = {t.name: t.value for t in run.terms}
    if not nodes or "loss_mask" not in values:
        return None
    head = run.model.get_submodule("mask_head")
    rep = replay_masks(run.mask_own[-1].kwargs, loss_dict(cfg, nodes[0]), int(head.max_masks_to_train))
    counts = Counts(rep.masks, tuple(0 for _ in rep.masks), sum(rep.masks))
    images = max(len(rep.masks), 1)
    summed = sum(rep.sums)
    value = values["loss_mask"]
    first = Counts(rep.masks[:1], (0,), rep.masks[0] if rep.masks else 0)
    feed = RealFeed(
        images, counts.rows / images, rep.size, None, counts, value / summed if summed else None, value, first
    )
    return feed, rep.value


# each term of FSAFHead: its part of reweight_loss_single's output (the level's summed cls, reg loss)
_REWEIGHTED = {"loss_cls": 0, "loss_bbox": 1}


def _selected(feed: RealFeed, run: HeadRun, name: str) -> RealFeed:
    """An FSAF term's feed with the positives its selection kept as the weights summed (the
    ``pos_flags`` of each level's ``reweight_loss_single``) and the factor the head applied to the
    levels' sums it returned (the module's element-wise results after the selection's weights)."""
    part = _REWEIGHTED.get(name)
    if part is None:
        return feed
    kept = sum(int(c.output[2].sum()) for c in run.own)
    summed = sum(float(c.output[part].detach()) for c in run.own)
    counts = replace(feed.counts, weights=float(kept))
    return replace(feed, counts=counts, scale=feed.value / summed if summed else None)


def _call_counts(run: HeadRun, index: int) -> tuple[int, int, float]:
    """One recorded call's rows, positives (as :func:`_add_call` counts them) and result."""
    call = run.recorded[index]
    module = run.model.get_submodule(call.module)
    tally = _Tally([0] * run.batch.images, [0] * run.batch.images)
    rows, _ = _add_call(tally, _bound(module, call), getattr(_head_of(run, call), "num_classes", 80))
    out = call.output
    return rows, sum(tally.pos), float(out.detach()) if hasattr(out, "detach") else float(out)


def _reweighted(made: dict[str, tuple[RealFeed, bool]], run: HeadRun) -> dict[str, tuple[RealFeed, bool]]:
    """DDODHead's terms with each called level's positives counted as its reweighting counts them
    (``loss_cls``: the classification assignment's; the box terms: those and the regression
    assignment's, read from ``loss_iou``'s calls, which mark every anchor's) and each call's result.
    ``loss_cls`` is called on every level, in order; a box call's level is the one of as many anchors
    (``loss_bbox``'s, on the positives only, that of ``loss_iou``'s call beside it)."""
    terms = {t.name: t.calls for t in run.terms if t.calls}
    if "loss_cls" not in terms:
        return made
    cls = [_call_counts(run, i) for i in terms["loss_cls"]]
    iou = [_call_counts(run, i) for i in terms.get("loss_iou", [])]  # none: no regression positive
    by_rows = {rows: level for level, (rows, _, _) in enumerate(cls)}
    if len(by_rows) != len(cls) or any(rows not in by_rows for rows, _, _ in iou):
        return made
    reg_levels = [by_rows[rows] for rows, _, _ in iou]
    counted = [n for _, n, _ in cls]
    for level, (_, n, _) in zip(reg_levels, iou, strict=True):
        counted[level] += n
    out = dict(made)
    for name, calls in terms.items():
        if name not in made:
            continue
        values = [_call_counts(run, i)[2] for i in calls]
        if name == "loss_cls":
            levels = tuple((n, v) for (_, n, _), v in zip(cls, values, strict=True))
        elif len(calls) == len(reg_levels):  # every level's count, a level of no call's result 0
            results = dict(zip(reg_levels, values, strict=True))
            levels = tuple((n, results.get(level, 0.0)) for level, n in enumerate(counted))
        else:
            continue
        feed, split = made[name]
        out[name] = (replace(feed, counts=replace(feed.counts, levels=levels)), split)
    return out


def _own_feeds(cfg: LoadedConfig, run: HeadRun, model: dict[str, Any]) -> dict[str, tuple[RealFeed, float]]:
    """The terms of a head that computes them in its own code (SSDHead), each as a feed read from
    the recorded calls of its method, with the model's term computed on those calls' arguments;
    the factor the head applied afterwards is the head's term over that computation."""
    from losstune.engine.heads_ssd import neg_pos_ratio
    from losstune.engine.realhead.ownterms import ssd_feeds
    from losstune.engine.session import loss_dict

    head = run.model.get_submodule(run.own[0].module)
    loss_cfgs = {str(n.path[-1]): loss_dict(cfg, n) for n in cfg.in_head_losses()}
    values = {t.name: t.value for t in run.terms}
    out: dict[str, tuple[RealFeed, float]] = {}
    for name, f in ssd_feeds(run.own, head.num_classes, neg_pos_ratio(model), loss_cfgs).items():
        images = max(len(f.counts.positives), 1)
        scale = values[name] / f.replayed if f.replayed else None
        first = Counts(f.counts.positives[:1], f.counts.negatives[:1], f.rows // images)
        feed = RealFeed(images, f.rows / images, f.width, f.avg, f.counts, scale, values[name], first)
        out[name] = (feed, f.replayed)
    return out


def _own_check(
    name: str,
    key: str,
    family: str,
    real: RealFeed,
    summed: float,
    by: float,
    model: tuple[int, tuple[int, ...], float],
) -> TermCheck:
    """One term a head computes in its own code, held against the model: ``real`` its feed (its
    scale the head's term over the model's ``summed`` on the head's own arguments), ``by`` the
    model's divisor counted on the head's batch, ``model`` the model's rows, width and term on
    its own inputs."""
    check = TermCheck(name, key, family, real)
    check.model_rows, check.model_width, check.model_value = model
    check.rule_scale = 1.0 / by
    if check.model_width != real.width or check.model_rows != real.rows:
        check.shape_ok = False
        check.why.append(
            f"the model's {_dims(check.model_width)} of {check.model_rows} rows, "
            f"the head's {_dims(real.width)} of {real.rows:g}"
        )
    real_scale = real.scale if real.scale is not None else 1.0
    if summed and not _close(check.rule_scale, real_scale):  # a term of nothing summed: no division to see
        check.scale_ok = False
        check.why.append(
            f"division: the model's rule gives {_factor(check.rule_scale)}, the head {_factor(real_scale)}"
        )
    ratio = check.model_value / real.value if real.value else (1.0 if check.model_value == 0 else float("inf"))
    if not (1 / VALUE_FACTOR <= ratio <= VALUE_FACTOR):
        check.value_ok = False
        check.why.append(f"value {check.model_value:.4g} vs the head's {real.value:.4g} (× {ratio:.3g})")
    return check


def _bag_head(cfg: LoadedConfig) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The config's ``loss_bbox`` node, the head dict around it and the loss's dict."""
    from losstune.engine.session import loss_dict
    from losstune.keypath import get

    node = next(n for n in cfg.losses() if n.path[-1] == "loss_bbox" and n.head is not None)
    found = get(cfg.tree, node.head) if node.head is not None else None
    return node, found if isinstance(found, dict) else {}, loss_dict(cfg, node)


def _classes(head_cfg: dict[str, Any]) -> int:
    """The head's ``num_classes`` as its code uses it (80 where it is not a usable count)."""
    return config_int(head_cfg, "num_classes", 80, least=1)


def _own_model(cfg: LoadedConfig, key: str, rows: int, seed: int) -> dict[str, float]:
    """The model's terms of a head whose log's terms are its own, as ``eval`` of its loss ``key``
    gives them on the model's image of ``rows`` priors."""
    from losstune.engine.session import evaluate_config

    return {t.name: t.value for t in evaluate_config(cfg, key, seed=seed, num_priors=max(rows, 1)).own_terms}


def _free_anchor_checks(cfg: LoadedConfig, run: HeadRun, seed: int) -> list[TermCheck]:
    """FreeAnchorRetinaHead's two terms held against the model: the head's bags and anchors (rows,
    classes, ``pre_anchor_topk``) against the config's, no avg_factor on either side, the division
    the model's rule counts on the head's own boxes against the head's term over the model's sum
    on exactly the head's arguments (``replayed``: that term), and the model's term on its own
    image, as ``eval`` gives it (:func:`~losstune.engine.heads_freeanchor.model_batch`), within
    the factor of 2."""
    from losstune.engine.heads_freeanchor import bag_params
    from losstune.engine.realhead.ownterms import free_anchor_feed

    call = run.own[-1]
    node, head_cfg, loss_bbox = _bag_head(cfg)
    params = bag_params(head_cfg)
    fed = free_anchor_feed(call, run.model.get_submodule(call.module), loss_bbox, params)
    mine = _own_model(cfg, node.key, fed.rows, seed)
    values = {t.name: t.value for t in run.terms}
    counts = Counts(fed.boxes, tuple(0 for _ in fed.boxes), fed.rows)
    rep = fed.replayed
    out: list[TermCheck] = []
    for name in TERMS:
        positive = name == TERMS[0]
        summed = rep.positive_sum if positive else rep.negative_sum
        # the model's divisor counted on the head's boxes, with the config's pre_anchor_topk
        by = float(max(1, counts.pos)) if positive else float(max(1, counts.pos * params.pre_anchor_topk))
        width = (fed.topk,) if positive else (fed.width,)
        real = RealFeed(
            1, float(fed.rows), width, None, counts, values[name] / summed if summed else None, values[name]
        )
        model_width = (params.pre_anchor_topk,) if positive else (_classes(head_cfg),)
        model = (fed.rows, model_width, mine[name])
        check = _own_check(name, f"{node.key.rpartition('.')[0]}.{name}", FREE_ANCHOR, real, summed, by, model)
        check.replayed = rep.positive if positive else rep.negative
        out.append(check)
    return out


def _auto_assign_checks(cfg: LoadedConfig, run: HeadRun, seed: int) -> list[TermCheck]:
    """AutoAssignHead's three terms held against the model as FreeAnchor's are: the points and
    classes against the config's, no avg_factor, the divisions (``max(boxes, 1)``, ``max(Σ center
    prior, 1)`` with the prior computed on the head's points and boxes, the images for the mean of
    ``loss_center``) against the head's term over the model's sum on its arguments, and the
    model's term on its own image, as ``eval`` gives it (:func:`~losstune.engine.heads_autoassign.model_batch`)."""
    from losstune.engine.heads_autoassign import TERMS as AUTO_TERMS
    from losstune.engine.heads_autoassign import auto_params
    from losstune.engine.realhead.ownterms import auto_assign_feed

    call = run.own[-1]
    node, head_cfg, loss_bbox = _bag_head(cfg)
    params = auto_params(head_cfg)
    rep = auto_assign_feed(call, run.model.get_submodule(call.module), loss_bbox, params)
    mine = _own_model(cfg, node.key, rep.rows, seed)
    values = {t.name: t.value for t in run.terms}
    boxes = tuple(int(g.bboxes.shape[0]) for g in call.kwargs["batch_gt_instances"])
    counts = Counts(boxes, tuple(0 for _ in boxes), rep.rows, rep.prior_sum)
    parts = {
        "loss_pos": (rep.pos_sum, float(max(counts.pos, 1)), rep.loss_pos, mine["loss_pos"]),
        "loss_neg": (rep.neg_sum, max(counts.weights, 1.0), rep.loss_neg, mine["loss_neg"]),
        "loss_center": (rep.center_sum, float(max(len(boxes), 1)), rep.loss_center, mine["loss_center"]),
    }
    out: list[TermCheck] = []
    for name in AUTO_TERMS:
        summed, by, replayed, model_value = parts[name]
        real = RealFeed(
            1, float(rep.rows), (rep.width,), None, counts, values[name] / summed if summed else None, values[name]
        )
        model = (rep.rows, (_classes(head_cfg),), model_value)
        check = _own_check(name, f"{node.key.rpartition('.')[0]}.{name}", AUTO_ASSIGN, real, summed, by, model)
        check.replayed = replayed
        out.append(check)
    return out


# the heads whose terms are their own code, each compared by its function
OWN_CHECKS: dict[str, Callable[[LoadedConfig, HeadRun, int], list[TermCheck]]] = {
    FREE_ANCHOR: _free_anchor_checks,
    AUTO_ASSIGN: _auto_assign_checks,
}


def _families(kinds: list[str]) -> str | None:
    """The families of a detector's several heads, joined in the order their terms come
    (``RPNHead + BBoxHead + FCNMaskHead``); ``None`` where none is modelled."""
    found = [family_of(k) or f"{k} (not modelled)" for k in kinds]
    return " + ".join(dict.fromkeys(found)) if any(family_of(k) for k in kinds) else None


def _uncalled(configured: bool) -> str:
    """Why a term of the loss dict was made by no call of a loss module."""
    if configured:
        return "the head called no loss module for it on this batch (a term of no positives is 0 × the predictions)"
    return (
        "the head computes it in its own code: no loss module of the config makes it, so the model has none to evaluate"
    )


def _first_rois(run: HeadRun, calls: list[int]) -> float:
    """The RoIs of a term's first call: its prediction's first dimension."""
    call = run.recorded[calls[0]]
    pred = next(iter(_bound(run.model.get_submodule(call.module), call).values()), None)
    return float(pred.shape[0]) if pred is not None and hasattr(pred, "shape") and pred.dim() else 1.0


def _mask_pixels(run: HeadRun, calls: list[int]) -> float:
    """The pixels of the largest mask a term's calls are handed (their predictions' last two sides)."""
    pixels = [1]
    for i in calls:
        call = run.recorded[i]
        pred = next(iter(_bound(run.model.get_submodule(call.module), call).values()), None)
        if pred is not None and hasattr(pred, "dim") and pred.dim() >= 2:
            pixels.append(int(pred.shape[-2] * pred.shape[-1]))
    return float(max(pixels))


def _per_mask(feed: RealFeed, head: Any) -> RealFeed:
    """A term of each mask's points flattened, a row a point (Mask2Former's ``loss_mask``), read
    as its head's masks: its rows and counts divided by the head's ``num_points``, its width those."""
    points = getattr(head, "num_points", None)
    if feed.width or not isinstance(points, int) or points < 1:
        return feed
    c = feed.counts
    counts = Counts(
        tuple(p // points for p in c.positives), tuple(n // points for n in c.negatives), c.rows // points, c.weights
    )
    return replace(feed, rows=feed.rows / points, width=(points,), counts=counts, first=counts)


def _per_frame(feed: RealFeed, frames: int) -> RealFeed:
    """A term of a row a frame of each matched instance (Mask2FormerTrackHead's masks), its
    positives and negatives read as the instances (divided by the ``frames``), its rows kept."""
    c = feed.counts
    counts = replace(
        c, positives=tuple(p // frames for p in c.positives), negatives=tuple(n // frames for n in c.negatives)
    )
    return replace(feed, counts=counts, first=counts)


def _per_mask_pixels(feed: RealFeed, pixels: float) -> RealFeed:
    """A term of each mask's ``pixels`` flattened, a row a pixel (MaskFormer's ``loss_mask``), read
    as masks: its rows and counts divided by the pixels, its width (one logit a pixel) kept."""
    per = int(pixels)
    c = feed.counts
    counts = Counts(
        tuple(p // per for p in c.positives), tuple(n // per for n in c.negatives), c.rows // per, c.weights
    )
    return replace(feed, rows=feed.rows / per, counts=counts, first=counts)


def _terms(run: HeadRun) -> list[tuple[str, Any]]:
    return [(t.name, t) for t in run.terms if t.calls]


def _compare(
    name: str,
    key: str,
    r: Any,
    real: RealFeed,
    family: str | None,
    assigned: Counts,
    references: int = 0,
    frames: int = 1,
) -> TermCheck:
    """The model's result ``r`` of one term held against the real head's feed (``assigned``: the
    counts of the assignment the term is fed from; ``references``: the reference frame's boxes of
    each video of the batch, against which a match term's logits are taken; ``frames``: the rows a
    matched instance has, one a frame, on both sides)."""
    from losstune.engine.session import logged_terms

    pred = r.args[0] if r.args and hasattr(r.args[0], "shape") else None
    check = TermCheck(name, key, family, real)
    if pred is not None:
        check.model_rows = rows_of(pred, r.args[1] if len(r.args) > 1 else None)
        check.model_width = width_of(pred)
    a = r.kwargs.get("avg_factor")
    check.model_avg = float(a) if a is not None else None
    logged = logged_terms(r)
    check.model_value = _one_number(logged[name] if name in logged else r.logged)
    check.approximate = "approximated" in r.trace.steps[0].description
    feed_rule = r.rule
    stats = r.trace.steps[0].value if isinstance(r.trace.steps[0].value, dict) else {}
    levels = feed_rule is not None and feed_rule.rule.layout == "levels"
    check.model_rows = int(stats.get("handed", check.model_rows))  # a call per level (DDOD's): all calls' rows
    if levels:  # a call per level: all calls' masks
        check.model_rows = int(stats.get("masks", check.model_rows))
    if feed_rule is not None and feed_rule.rule.layout == "tokens" and stats.get("tokens"):  # flat: rows of tokens
        check.model_width = (int(stats["tokens"]),)
        check.model_rows //= int(stats["tokens"])
    if feed_rule is not None and feed_rule.rule.layout == "points" and not check.model_width:
        check.model_rows, check.model_width = int(stats.get("masks", 0)), (int(stats.get("points", 1)),)
    if feed_rule is not None and feed_rule.rule.layout == "pixels":
        check.model_rows = int(stats.get("masks", 0))
    if feed_rule is not None and feed_rule.rule.layout == "match_calls":
        # a column for no match and one per reference box: the model's references and the batch's
        refs = int(stats.get("references", 0))
        if check.model_width == (1 + refs,) and real.width == (1 + references,):
            check.model_width = real.width
    if check.model_width != real.width:
        check.shape_ok = False
        check.why.append(f"prediction width {_dims(check.model_width)} vs the head's {_dims(real.width)}")
    kind = _masks_kind if levels else _kind
    ours = kind(check.model_rows / frames, float(stats.get("positives", -1)), float(stats.get("negatives", 0)))
    images = max(len(assigned.positives), 1)
    theirs = (
        (_masks_kind(real.rows, assigned.pos / images, assigned.neg / images),)
        if levels
        else row_kinds(real.rows / frames, assigned.pos / images, assigned.neg / images)
    )
    if frames > 1:  # a row a frame of each
        ours, theirs = f"{ours}' {frames} frames", tuple(f"{t}' {frames} frames" for t in theirs)
    if ours not in theirs:
        check.shape_ok = False
        check.why.append(f"rows: the model hands {ours}, the head {theirs[0]}")
    if feed_rule is not None:
        check.rule_avg = feed_rule.avg(real.counts, assigned, real.first)
        # SOLO's num_pos: the assignment's positive cells, whatever masks the calls are handed
        by = feed_rule.divisor(assigned if levels else real.counts)
        check.rule_scale = 1.0 / by if by is not None else None
        if not _close(check.rule_avg, real.avg):
            check.avg_ok = False
            check.why.append(
                f"avg_factor: the model's rule gives {_num(check.rule_avg)}, the head passes {_num(real.avg)}"
            )
        real_scale = real.scale if real.scale is not None else 1.0  # the head divides by 1 or not at all
        unseen = real.value == 0 and real.scale is None  # a term of 0 (no positive RoI): no division to see
        if not unseen and not _close(check.rule_scale if check.rule_scale is not None else 1.0, real_scale):
            check.scale_ok = False
            check.why.append(
                f"division afterwards: the model's rule gives {_factor(check.rule_scale)}, the head {_factor(real_scale)}"
            )
    elif not _close(check.model_avg, real.avg):  # no sampling to count from (a heatmap's peaks): as made
        check.avg_ok = False
        check.why.append(f"avg_factor: the model passes {_num(check.model_avg)}, the head {_num(real.avg)}")
    if math.isnan(check.model_value):  # an element-wise term (reduction='none'): the head reduces it itself
        check.value_ok = False
        check.why.append(
            "value: the model's term is element-wise (reduction='none'), the head reduces it in its own code"
        )
        return check
    ratio = check.model_value / real.value if real.value else (1.0 if check.model_value == 0 else float("inf"))
    if not (1 / VALUE_FACTOR <= ratio <= VALUE_FACTOR):
        check.value_ok = False
        check.why.append(f"value {check.model_value:.4g} vs the head's {real.value:.4g} (× {ratio:.3g})")
    return check


def _one_number(logged: Any) -> float:
    """The model's term as one number: a dict's terms summed; NaN for an element-wise tensor."""
    if isinstance(logged, dict):
        return sum(_one_number(v) for v in logged.values())
    if hasattr(logged, "numel") and logged.numel() != 1:
        return float("nan")
    return float(logged)


def _dims(width: tuple[int, ...]) -> str:
    return "N×" + "×".join(map(str, width)) if width else "N"


def _num(v: float | None) -> str:
    return "none" if v is None else f"{v:g}"


def _factor(v: float | None) -> str:
    return "none" if v is None else f"÷ {1 / v:g}"

"""Finished reports: everything a renderer needs, computed once, with no I/O left to do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from losstune.config import LoadedConfig, origin_at
from losstune.keypath import Path, format_path, get
from losstune.loader.envmask import EnvMask, EnvValue
from losstune.loader.values import LDict, same_value, to_plain
from losstune.locate import LossNode, SamplerRef, head_train_cfg, in_head_note, in_head_spec
from losstune.model import Diagnostic, Origin
from losstune.rules.base import Context
from losstune.rules.unknown_parameter import unknown_keys
from losstune.schema.catalogue import bare_type
from losstune.schema.custom import with_custom_imports
from losstune.schema.heads import HEAD_LOSS_PARAMS, NO_SAMPLER_HEADS, SAMPLER_HEADS, listed
from losstune.schema.mmdet_version import detect_version, detection
from losstune.schema.registry import Entry, Schema
from losstune.schema.scopes import DEFAULT_SCOPE, TypeRef, default_scope, type_at

if TYPE_CHECKING:
    from losstune.engine.trace import StepName


class Param(Struct, frozen=True):
    """One parameter of a loss or sampler: its value and where it was set; ``default`` when the
    config leaves it unset and the value is the constructor's default."""

    name: str
    value: Any
    origin: Origin | None
    default: bool = False
    description: str = ""
    unknown: bool = False
    did_you_mean: str | None = None


class SamplerView(Struct, frozen=True):
    """The sampler feeding a loss; ``key`` is ``None`` for the implicit default."""

    key: str | None
    type: str
    default: bool
    origin: Origin | None
    params: list[Param]


class StepView(Struct, frozen=True):
    """One of the five steps of a loss on sample tensors: what it computes, what it produced, and
    one plain sentence about it."""

    name: StepName
    description: str
    summary: dict[str, Any]
    plain: str


MODEL_PATH = "model"  # a term computed by losstune's head model (the real head's path names itself)


class TermView(Struct, frozen=True):
    """One term of the loss dict as the training log names it: its value on the sample batch
    (``None`` where it is not one number), the loss key it comes from, and the ``path`` that
    produced it (``"model"``: losstune's head model)."""

    name: str
    value: Any
    key: str
    path: str
    how: str = ""  # how the head makes it, where it is not one loss module's output (its own code)


class LossView(Struct, frozen=True):
    """One loss: key path, type, where the dict is set, parameters, head and sampler; its steps on
    sample tensors when they were computed (or why not, in ``steps_note``)."""

    key: str
    type: str
    origin: Origin | None
    head: str | None
    params: list[Param]
    sampler: SamplerView | None
    sampler_note: str | None = None  # why there is none, where the head's code says (``CenterNetHead uses no sampler``)
    steps: list[StepView] | None = None
    steps_note: str | None = None
    note: str | None = None
    terms: list[TermView] = field(default_factory=list)
    phase: str | None = None  # the phase of the head's training its steps model, where they follow the epoch
    by_head: str | None = None  # the head class that computes it in its own code (no loss dict of the config)


class ExplainReport(Struct, frozen=True):
    """``losstune explain``: every loss of one resolved config (``config`` and ``files`` are
    absolute paths; renderers show them relative), the MMDetection ``version`` it is read for and
    what says so (``version_from``: ``--mmdet-version``, the top-level key that shows it such as
    ``train_dataloader`` or ``data``, or ``default``), and the registry
    ``scope`` its types are looked up in with the key that sets it (``None``: MMDetection's, the
    default)."""

    config: str
    files: list[str]
    losses: list[LossView]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    version: int = 3
    version_from: str = ""
    scope: str | None = DEFAULT_SCOPE
    scope_key: str | None = None

    @property
    def terms(self) -> list[TermView]:
        """Every loss term of the config, as the training log names them, in the losses' order."""
        return [t for loss in self.losses for t in loss.terms]

    @property
    def total(self) -> float | None:
        """The sum of the terms (mmengine's ``parse_losses`` adds every key with ``loss`` in it),
        ``None`` when some term is not one number."""
        values = [t.value for t in self.terms]
        if not values or any(v is None for v in values):
            return None
        return float(sum(values))


Unknown = dict[Path, dict[str, str | None]]


def _unknown(ctx: Context) -> Unknown:
    """The keys of each loss and sampler dict that its class does not take (what LT102 reports),
    each with the closest known parameter."""
    return {node.path: dict(unknown_keys(node)) for node in ctx.nodes()}


def _taken_by_head(ctx: Context) -> dict[Path, dict[str, str]]:
    """The keys of each loss dict that its head takes out before the loss is built (DETRHead's
    ``bg_cls_weight``), each with what that head does with it."""
    out: dict[Path, dict[str, str]] = {}
    for node in ctx.nodes():
        head = node.head_type()
        if head is not None:
            names = HEAD_LOSS_PARAMS.get((head, str(node.path[-1])), {})
            out[node.path] = {n: f"Read by {head}, which builds the loss without it." for n in names}
    return out


def _params(
    node: Any,
    entry: Entry | None,
    version: int,
    mask: EnvMask,
    unknown: dict[str, str | None] | None = None,
    skip: tuple[str, ...] = ("type",),
) -> list[Param]:
    """The parameters set in ``node`` (those its class does not take marked ``unknown``), then the
    schema's defaults for those left unset; a value from an environment variable is its
    :class:`~losstune.loader.envmask.EnvValue`."""
    if not isinstance(node, dict):
        return []
    origins = node.origins if isinstance(node, LDict) else {}
    unknown = unknown or {}
    specs = entry.params_for(version) if entry is not None else {}
    out = [
        Param(
            mask.text(str(k)),
            mask.value(to_plain(v), origins.get(k)),
            origins.get(k),
            description=specs[k].description if k in specs else "",
            unknown=k in unknown,
            did_you_mean=unknown.get(k) if isinstance(k, str) else None,
        )
        for k, v in node.items()
        if k not in skip
    ]
    for name, spec in specs.items():
        if name not in node and spec.has_default and not spec.internal:
            out.append(Param(name, spec.default, None, default=True, description=spec.description))
    return out


def _sampler_view(
    cfg: LoadedConfig, s: SamplerRef | None, schema: Schema, version: int, mask: EnvMask, unknown: Unknown
) -> SamplerView | None:
    if s is None:
        return None
    node: Any = {}
    if s.path is not None:
        node = get(cfg.tree, s.path)
    return SamplerView(
        s.key,
        _type(s.type, node, mask),
        s.default,
        s.origin,
        _params(node, _entry(cfg, schema, s.type, s.path, version), version, mask, unknown.get(s.path or (), {})),
    )


def _entry(cfg: LoadedConfig, schema: Schema, type_name: str, path: Path | None, version: int) -> Entry | None:
    """The schema entry of the dict at ``path``, looked up in the registry of its scope."""
    return schema.lookup(type_at(cfg.tree, path or (), type_name, version))


def _head_ref(cfg: LoadedConfig, loss: LossNode, version: int) -> TypeRef | None:
    """Where the type of the head holding ``loss`` is looked up, if it has one."""
    if loss.head is None:
        return None
    head = get(cfg.tree, loss.head)
    head_type = head.get("type") if isinstance(head, dict) else None
    return type_at(cfg.tree, loss.head, head_type, version) if isinstance(head_type, str) else None


def _known_sampler(loss: LossNode, ref: TypeRef | None) -> SamplerRef | None:
    """The loss's sampler, ``ref`` being where its head's type is looked up: none under a head of MMDetection whose losses take no sampling result
    (:data:`~losstune.schema.heads.NO_SAMPLER_HEADS`), even one its train_cfg names; the implicit
    PseudoSampler only under the heads of MMDetection that build one and sample with it
    (:data:`~losstune.schema.heads.SAMPLER_HEADS`): another head samples, or not, as its own code
    says."""
    s = loss.sampler
    if s is None:
        return None
    if listed(NO_SAMPLER_HEADS, ref):
        return None
    return s if not s.default or listed(SAMPLER_HEADS, ref) else None


def _sampler_note(loss: LossNode, ref: TypeRef | None) -> str | None:
    """``CenterNetHead uses no sampler`` for a loss under a head of MMDetection whose losses take no
    sampling result (and that its train_cfg's sampler is not used, where one is configured), ``ref``
    being where its head's type is looked up."""
    if ref is None or not listed(NO_SAMPLER_HEADS, ref):
        return None
    s = loss.sampler
    unused = f": the one at {s.key} is never used" if s is not None and not s.default and s.key else ""
    return f"{ref.name} uses no sampler{unused}"


def unchecked_note(cfg: LoadedConfig, schema: Schema, loss: LossNode, version: int) -> str | None:
    """Why a loss's parameters are not checked, when the registry it is looked up in is one
    losstune has no schema for (another project's)."""
    ref = type_at(cfg.tree, loss.path, loss.type, version)
    if not schema.unchecked(ref):
        return None
    return f"not checked: `{loss.type}` is looked up in {ref.where}, which losstune has no schema for"


def _type(name: str, node: Any, mask: EnvMask) -> str:
    """The ``type`` of a loss or sampler as shown: ``$NAME`` where a variable gives it."""
    names = mask.names(name, node.origins.get("type") if isinstance(node, LDict) else None)
    return repr(EnvValue(names)) if names else name


def _in_head_view(
    cfg: LoadedConfig, loss: LossNode, schema: Schema, version: int, mask: EnvMask, unknown: Unknown
) -> LossView:
    """A loss its head computes in its own code: the parameters of the loss module that computes
    the same, fixed by the head's code (set where the head's type is) or read from its
    ``train_cfg`` (set there), and the other ``train_cfg`` keys the code reads for it."""
    spec = in_head_spec(loss)
    assert spec is not None and loss.head is not None
    head = bare_type(loss.by_head or "")
    found = head_train_cfg(cfg.tree, loss.head)
    train_path: Path = found[0] if found is not None else ()
    entry = _entry(cfg, schema, loss.type, loss.head, version)
    specs = entry.params_for(version) if entry is not None else {}
    params = []
    for name, v in loss.params.items():
        key = spec.reads.get(name)
        meaning = specs[name].description if name in specs else ""
        own = spec.head_reads.get(name)
        head_cfg = get(cfg.tree, loss.head)
        if own is not None and isinstance(head_cfg, dict) and own in head_cfg:
            where = origin_at(cfg.tree, (*loss.head, own))
            params.append(
                Param(name, v, where, description=f"the head's {own}, which {head} passes. {meaning}".strip())
            )
        elif key is None:
            fixed = f"{head}'s default" if spec.default else f"fixed in {head}'s code"
            params.append(Param(name, v, loss.origin, description=f"{fixed}. {meaning}".strip()))
        else:
            where = origin_at(cfg.tree, (*train_path, key))
            params.append(Param(name, v, where, description=f"train_cfg.{key}, which {head} passes. {meaning}".strip()))
    train = found[1] if found is not None else {}
    for key, what in spec.uses.items():
        if key in train:
            params.append(
                Param(
                    key,
                    to_plain(train[key]),
                    origin_at(cfg.tree, (*train_path, key)),
                    description=f"train_cfg.{key}: {what}",
                )
            )
    return LossView(
        key=loss.key,
        type=loss.type,
        origin=loss.origin,
        head=format_path(loss.head),
        params=params,
        sampler=_sampler_view(cfg, loss.sampler, schema, version, mask, unknown),
        note=in_head_note(loss),
        by_head=head,
    )


def _loss_view(
    cfg: LoadedConfig, loss: LossNode, schema: Schema, version: int, mask: EnvMask, unknown: Unknown
) -> LossView:
    node: Any = get(cfg.tree, loss.path)
    head = _head_ref(cfg, loss, version)
    return LossView(
        key=loss.key,
        type=_type(loss.type, node, mask),
        origin=loss.origin,
        head=format_path(loss.head) if loss.head is not None else None,
        params=_params(
            node, _entry(cfg, schema, loss.type, loss.path, version), version, mask, unknown.get(loss.path, {})
        ),
        sampler=_sampler_view(cfg, _known_sampler(loss, head), schema, version, mask, unknown),
        sampler_note=_sampler_note(loss, head),
        note=unchecked_note(cfg, schema, loss, version) if schema.describes_any() else None,
    )


def explain(
    cfg: LoadedConfig,
    schema: Schema | None = None,
    version: int | None = None,
    steps: bool = False,
    seed: int = 0,
    epoch: int = 0,
) -> ExplainReport:
    """Build the explain report of a loaded config; with a ``schema`` (and the classes the
    config's ``custom_imports`` registers), parameters left unset are listed with their defaults
    (for MMDetection ``version``, detected when not given); with ``steps``, each loss is evaluated
    on seeded sample tensors (needs torch), as its head feeds it at the training ``epoch``."""
    schema = with_custom_imports(schema or Schema(), cfg.tree, cfg.path).schema
    version, version_from = (version, "--mmdet-version") if version else detection(cfg.tree)
    version_from = version_from or "default"
    scope, scope_key = default_scope(cfg.tree, version)
    mask = EnvMask.of(cfg)
    ctx = Context(cfg, schema, version)
    unknown, taken = _unknown(ctx), _taken_by_head(ctx)
    views = [
        _described(_loss_view(cfg, loss, schema, version, mask, unknown), taken.get(loss.path, {}))
        for loss in cfg.losses()
    ]
    views += [_in_head_view(cfg, loss, schema, version, mask, unknown) for loss in cfg.in_head_losses()]
    if steps:
        views = [_with_steps(cfg, view, seed, version, mask, epoch) for view in views]
    return ExplainReport(
        config=cfg.path,
        files=list(cfg.files),
        losses=views,
        diagnostics=list(dict.fromkeys(cfg.diagnostics)),
        version=version,
        version_from=version_from,
        scope=scope,
        scope_key=scope_key,
    )


def _described(view: LossView, taken: dict[str, str]) -> LossView:
    """``view`` with a meaning for the parameters its head takes out of the loss dict."""
    from msgspec.structs import replace

    params = [
        replace(p, description=taken[p.name]) if p.name in taken and not p.description else p for p in view.params
    ]
    return replace(view, params=params)


def _with_steps(cfg: LoadedConfig, view: LossView, seed: int, version: int, mask: EnvMask, epoch: int) -> LossView:
    from msgspec.structs import replace

    from losstune.engine.inputs import InputError
    from losstune.engine.session import evaluate_config, logged_terms
    from losstune.engine.trace import UnsupportedLoss

    try:
        result = evaluate_config(cfg, view.key, seed=seed, num_priors=None, mmdet_version=version, epoch=epoch)
    except (InputError, UnsupportedLoss) as e:
        replay = "; `losstune eval --inputs FILE` evaluates it on tensors from a file"
        hint = replay if isinstance(e, InputError) and e.replayable else ""
        return replace(view, steps_note=mask.text(f"{e}{hint}"))
    terms = [TermView(name, value, view.key, MODEL_PATH) for name, value in logged_terms(result).items()]
    for other in result.log_names[1:]:  # a DETR head's other decoder layers, encoder, denoising
        if any(t.name == other for t in terms):  # a part of the first call's result (CornerHead's push_loss)
            continue
        try:
            more = evaluate_config(
                cfg, view.key, seed=seed, num_priors=None, mmdet_version=version, term=other, epoch=epoch
            )
        except (InputError, UnsupportedLoss):  # the term fed alike as the first, which did evaluate
            terms.append(TermView(other, None, view.key, MODEL_PATH))
            continue
        terms += [TermView(name, value, view.key, MODEL_PATH) for name, value in logged_terms(more).items()]
    terms = _own_terms(view, terms, result.own_terms)
    return replace(
        view,
        steps=[StepView(s.name, s.description, s.summary(), _plain(s, result)) for s in result.trace.steps],
        terms=[replace(t, value=_scalar(t.value)) for t in terms],
        phase=result.phase.describe() if result.phase is not None else None,
    )


def _own_terms(view: LossView, terms: list[TermView], own: list[Any]) -> list[TermView]:
    """``terms`` with how the head makes each, and the head's other terms after them, where its
    log's terms are its own code (:class:`~losstune.engine.ownmodel.OwnTerm`): each from the loss
    that enters it, or from the head where none does."""
    from msgspec.structs import replace

    how = {t.name: t for t in own}
    out = [replace(t, how=how[t.name].how) if t.name in how else t for t in terms]
    logged = {t.name for t in terms}
    return out + [
        TermView(t.name, t.value, view.key if t.loss else view.head or view.key, MODEL_PATH, t.how)
        for t in own
        if t.name not in logged
    ]


def _scalar(v: Any) -> float | None:
    """A term's value as a number (``None`` for a loss kept element-wise)."""
    if hasattr(v, "numel"):
        return float(v.item()) if v.numel() == 1 else None
    return float(v) if isinstance(v, (int, float)) else None


def _plain(step: Any, result: Any) -> str:
    """One sentence about a step's numbers."""
    import torch

    value = step.value
    if step.name == "sampling":  # its description states the counts (JSON has them as numbers)
        factor = value.get("avg_factor") if isinstance(value, dict) else None
        return "" if factor is None or "avg_factor" in step.description else f"avg_factor = {factor:g}"
    if not isinstance(value, torch.Tensor) or value.numel() == 0:
        return ""
    if value.numel() == 1:
        return f"= {float(value):.6g}"
    if step.name == "kernel":
        return f"mean element-wise loss {float(value.mean()):.4g} over {value.numel()} elements"
    if step.name == "weight":
        kept = f"{int((value != 0).sum())} of {value.numel()} elements still count"
        pos = result.sampled.pos_mask if result.sampled is not None else None
        total = float(value.sum())
        if pos is not None and value.dim() >= 1 and value.size(0) == pos.numel() and total > 0:
            share = float(value[pos].sum()) / total
            return f"{kept}; the {int(pos.sum())} positives give {share:.0%} of the loss"
        return kept
    return ""


class Side(Struct, frozen=True):
    """One config's value of a field and its origin (``present`` is false where the key does not
    exist in that config); ``default`` when the config leaves it unset and the value is the
    schema's default (or the implicit sampler)."""

    present: bool
    value: Any = None
    origin: Origin | None = None
    default: bool = False


class FieldDiff(Struct, frozen=True):
    """A loss or sampler field whose value differs among the configs: ``field`` of the dict at
    ``node``, one side per config."""

    key: str
    node: str
    field: str
    sides: list[Side]

    @property
    def a(self) -> Side:
        """The first config's side."""
        return self.sides[0]

    @property
    def b(self) -> Side:
        """The second config's side."""
        return self.sides[1]


class DiffReport(Struct, frozen=True):
    """``losstune diff``: the loss and sampler fields that differ among configs (``configs`` are
    absolute paths; renderers show them relative). The values compared are those that take effect
    (defaults filled in), or those written with ``written``; ``default_only`` lists the fields
    written differently whose values in effect are equal."""

    configs: list[str]
    diffs: list[FieldDiff]
    written: bool = False
    default_only: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def a(self) -> str:
        """The first config."""
        return self.configs[0]

    @property
    def b(self) -> str:
        """The second config."""
        return self.configs[1]


class _Field(Struct, frozen=True):
    node: str
    name: str
    value: Any  # as read, for comparing
    side: Side  # as shown


def _fields(cfg: LoadedConfig, schema: Schema | None, version: int | None) -> dict[str, _Field]:
    """Every loss and sampler field of ``cfg`` by full key path: as written, or with a ``schema``
    as it takes effect (each dict's defaults filled in, in the registry its type is looked up in,
    and the implicit sampler of a head made explicit, as ``explain`` shows them)."""
    mask = EnvMask.of(cfg)
    version = version or detect_version(cfg.tree)
    nodes: list[tuple[Path, str, Any, bool]] = [(x.path, x.type, get(cfg.tree, x.path), False) for x in cfg.losses()]
    nodes += [(s.path, s.type, get(cfg.tree, s.path), False) for s in cfg.samplers() if s.path is not None]
    if schema is not None:
        schema = with_custom_imports(schema, cfg.tree, cfg.path).schema
        for loss in cfg.losses():
            s = _known_sampler(loss, _head_ref(cfg, loss, version))
            if s is not None and s.default and s.place is not None:
                nodes.append((s.place, s.type, {"type": s.type}, True))
    out: dict[str, _Field] = {}
    for path, type_name, node, implicit in nodes:
        entry = _entry(cfg, schema, type_name, path, version) if schema is not None else None
        node_key = mask.text(format_path(path))
        for p in _params(node, entry, version, EnvMask([]), skip=()):
            full = (*path, p.name)
            origin = None if p.default or implicit else p.origin or origin_at(cfg.tree, full)
            side = Side(True, mask.value(p.value, origin), origin, p.default or implicit)
            out.setdefault(mask.text(format_path(full)), _Field(node_key, mask.text(p.name), p.value, side))
    return out


def _differing(fields: list[dict[str, _Field]]) -> list[FieldDiff]:
    """The fields whose values are not the same in every config, grouped by the dict they are in
    (in the order the configs list them)."""
    keys = list(dict.fromkeys(k for f in fields for k in f))
    nodes = {n: i for i, n in enumerate(dict.fromkeys(next(f[k].node for f in fields if k in f) for k in keys))}
    out: list[FieldDiff] = []
    for key in keys:
        found = [f.get(key) for f in fields]
        first = found[0]
        if first is not None and all(x is not None and same_value(first.value, x.value) for x in found):
            continue
        known = next(x for x in found if x is not None)
        sides = [x.side if x is not None else Side(False) for x in found]
        out.append(FieldDiff(key, known.node, known.name, sides))
    return sorted(out, key=lambda d: nodes[d.node])


def diff(
    configs: list[LoadedConfig], schema: Schema | None = None, version: int | None = None, written: bool = False
) -> DiffReport:
    """Build the diff report of loaded configs: the fields that take effect compared (each config
    read with ``schema``, for MMDetection ``version``, detected when not given), or with
    ``written`` (or no ``schema``) those written."""
    as_written = _differing([_fields(c, None, version) for c in configs])
    if written or schema is None:
        diffs, default_only = as_written, []
    else:
        diffs = _differing([_fields(c, schema, version) for c in configs])
        differ = {d.key for d in diffs}
        default_only = [d.key for d in as_written if d.key not in differ]
    return DiffReport(
        [c.path for c in configs],
        diffs,
        written or schema is None,
        default_only,
        list(dict.fromkeys(d for c in configs for d in c.diagnostics)),
    )

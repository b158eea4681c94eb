"""What every lint rule is made of, and what it sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from msgspec import Struct
from msgspec.structs import replace

from losstune.config import LoadedConfig, origin_at
from losstune.keypath import Path, format_path, get
from losstune.loader.envmask import EnvMask
from losstune.locate import LossNode, SamplerRef
from losstune.model import ComponentKind, Diagnostic, FixEdit, FixSafety, Origin, Related, Replacement, Severity, Span
from losstune.schema.heads import HEAD_LOSS_PARAMS
from losstune.schema.registry import Entry, ParamSpec, Schema, TypeSpec
from losstune.schema.scopes import DEFAULT_SCOPE, TypeRef, type_at

if TYPE_CHECKING:
    from losstune.loader.customimports import UnreadModule
    from losstune.schema.custom import CustomSchema


class Example(Struct, frozen=True):
    """A config for a rule's own tests; ``at`` is the (line, column) of each expected finding.
    ``bases`` are the files written beside it (name, text), for a config that inherits them."""

    source: str
    at: tuple[tuple[int, int], ...] = ()
    version: int = 3
    fixed: str | None = None
    """The source after ``lint --fix`` (with ``--unsafe-fixes`` for a rule whose fix is unsafe)."""
    bases: tuple[tuple[str, str], ...] = ()


class Context(Struct):
    """One resolved config, the schema, and the MMDetection version it is checked against;
    ``custom`` is what its ``custom_imports`` register, where it has some."""

    config: LoadedConfig
    schema: Schema
    version: int
    custom: CustomSchema | None = None
    _nodes: list[Node] | None = None
    _mask: EnvMask | None = None
    _order: dict[str, int] | None = None

    @property
    def unread_imports(self) -> tuple[UnreadModule, ...]:
        """The modules of the config's ``custom_imports`` that could not be read."""
        return self.custom.unread if self.custom is not None else ()

    @property
    def mask(self) -> EnvMask:
        """What the config read from environment variables: values are shown through it."""
        if self._mask is None:
            self._mask = EnvMask.of(self.config)
        return self._mask

    def resolve(self, type_name: str, path: Path) -> TypeRef:
        """Where the ``type`` of the dict at ``path`` is looked up (its registry scope)."""
        return type_at(self.config.tree, path, type_name, self.version)

    @staticmethod
    def place(origin: Origin) -> str:
        """``file:line`` of ``origin`` as a message names it (the file absolute, as spans hold it;
        a finding whose message holds it lists the file in ``files``, for renderers to show)."""
        return f"{origin.span.file}:{origin.span.line}"

    def nearest(self, *origins: Origin | None) -> Origin | None:
        """Of the places some values were set, the one in the file nearest to the config linted (the
        config itself, then its bases, then theirs): where a child config wrote the value that now
        conflicts with a base's, that is the child's line. The first given wins a tie."""
        order = self._file_order()
        best: Origin | None = None
        for o in origins:
            if o is not None and (best is None or order.get(o.span.file, 1 << 30) < order.get(best.span.file, 1 << 30)):
                best = o
        return best

    def _file_order(self) -> dict[str, int]:
        if self._order is None:
            self._order = {f: i for i, f in reversed(list(enumerate(self.config.files)))}
        return self._order

    def node_at(self, key: str) -> Node | None:
        """The loss or sampler whose dict holds the value at dotted ``key`` (or is it)."""
        best: Node | None = None
        for node in self.nodes():
            k = node.key
            if (key == k or key.startswith(k + ".")) and (best is None or len(k) > len(best.key)):
                best = node
        return best

    def nodes(self) -> list[Node]:
        """Every loss and sampler of the config with its schema entry (``None`` if unknown)."""
        if self._nodes is None:
            out: list[Node] = []
            seen: set[Path] = set()
            for loss in self.config.losses():
                ref = self.resolve(loss.type, loss.path)
                out.append(Node(self, loss.path, "loss", loss.type, self.schema.lookup(ref), loss, ref))
            for s in self.config.samplers():
                if s.path is not None and s.path not in seen:
                    seen.add(s.path)
                    ref = self.resolve(s.type, s.path)
                    out.append(Node(self, s.path, "sampler", s.type, self.schema.lookup(ref), None, ref))
            self._nodes = out
        return self._nodes


class Node(Struct):
    """A loss or sampler dict of the config. What every rule asks of it (its dict, its parameters,
    its head's type) is worked out once, for all of them: do not modify what it gives."""

    ctx: Context
    path: Path
    kind: ComponentKind
    type: str
    entry: Entry | None
    loss: LossNode | None
    ref: TypeRef
    _value: dict[str, Any] | None = None
    _params: dict[str, ParamSpec] | None = None
    _specs: dict[str, ParamSpec] | None = None
    _head_ref: tuple[TypeRef | None] | None = None

    @property
    def key(self) -> str:
        """Dotted key path of the dict."""
        return format_path(self.path)

    @property
    def value(self) -> dict[str, Any]:
        """The dict itself."""
        if self._value is None:
            v = get(self.ctx.config.tree, self.path)
            assert isinstance(v, dict)
            self._value = v
        return self._value

    def origin(self, param: str | None = None) -> Origin | None:
        """Where the dict (or one of its parameters) was set."""
        path = self.path if param is None else (*self.path, param)
        return origin_at(self.ctx.config.tree, path)

    def key_span(self, param: str) -> Span | None:
        """Where the name of ``param`` is written as the key of its value (``gama`` of
        ``gama=2.0``): what a finding about the key itself covers; the value's span where the key
        is not written beside it."""
        origin = self.origin(param)
        if origin is None:
            return None
        source = self.ctx.config.sources.get(origin.span.file)
        found = source.key_of(origin.span, param) if source is not None else None
        return found or origin.span

    def show(self, param: str) -> str:
        """The value of ``param`` as a message shows it: ``repr``, or ``$NAME`` where it comes
        from the environment variable ``NAME`` (never its value)."""
        return self.ctx.mask.show(self.value.get(param), self.origin(param))

    def env_names(self, param: str) -> tuple[str, ...]:
        """The environment variables the value of ``param`` comes from."""
        return self.ctx.mask.names(self.value.get(param), self.origin(param))

    def head(self) -> dict[str, Any] | None:
        """The head dict holding this loss, if any."""
        if self.loss is None or self.loss.head is None:
            return None
        h = get(self.ctx.config.tree, self.loss.head)
        return h if isinstance(h, dict) else None

    def head_origin(self, param: str) -> Origin | None:
        """Where a parameter of the head holding this loss was set."""
        if self.loss is None or self.loss.head is None:
            return None
        return origin_at(self.ctx.config.tree, (*self.loss.head, param))

    def head_key(self) -> str | None:
        """Dotted key path of the head holding this loss."""
        return format_path(self.loss.head) if self.loss is not None and self.loss.head is not None else None

    def head_ref(self) -> TypeRef | None:
        """The registry and name of the head holding this loss (MMYOLO's ``YOLOv6Head``), if it
        has one; a rule looks it up in the tables of schema/heads.py, by registry."""
        if self._head_ref is None:
            head = self.head()
            t = head.get("type") if head else None
            if not isinstance(t, str) or self.loss is None or self.loss.head is None:
                self._head_ref = (None,)
            else:
                self._head_ref = (self.ctx.resolve(t, self.loss.head),)
        return self._head_ref[0]

    def head_type(self) -> str | None:
        """The ``type`` of the head holding this loss (``RetinaHead``), if it has one and it is one
        of MMDetection's heads."""
        ref = self.head_ref()
        return ref.name if ref is not None and ref.registry == DEFAULT_SCOPE else None

    def entry_ref(self) -> TypeRef | None:
        """The registry and name of the class this dict builds, if the schema knows it."""
        if self.entry is None:
            return None
        return TypeRef(self.entry.registry, self.entry.name, self.ref.scope, True)

    def is_mmdet(self, *names: str) -> bool:
        """Whether this dict builds MMDetection's class of one of these names."""
        return self.entry is not None and self.entry.registry == DEFAULT_SCOPE and self.entry.name in names

    def params(self) -> dict[str, ParamSpec]:
        """The parameters of this dict's class in the config's MMDetection version (none for a
        type the schema does not know)."""
        if self._params is None:
            self._params = self.entry.params_for(self.ctx.version) if self.entry is not None else {}
        return self._params

    def param_specs(self) -> dict[str, ParamSpec]:
        """The parameters this dict may hold: the schema's, adjusted for what the head does to the
        dict before building the loss (DETRHead consumes ``bg_cls_weight``)."""
        if self._specs is None:
            self._specs = self._adjusted_specs()
        return self._specs

    def _adjusted_specs(self) -> dict[str, ParamSpec]:
        if self.entry is None:
            return {}
        specs = self.params()
        head_type = self.head_type()
        changed = HEAD_LOSS_PARAMS.get((head_type, str(self.path[-1])), {}) if head_type is not None else {}
        if changed:
            specs = dict(specs)
            for name, type_text in changed.items():
                base = specs.get(name)
                specs[name] = replace(base, type=TypeSpec(type_text)) if base else ParamSpec(name, TypeSpec(type_text))
        return specs

    def sampler(self) -> SamplerRef | None:
        """The sampler feeding this loss."""
        return self.loss.sampler if self.loss is not None else None


class Rule:
    """Base class of lint rules. A rule's docstring is its user documentation; its first paragraph,
    on one line, is the rule's ``summary`` (the ``losstune rule`` listing, SARIF's short description).
    A rule's module, class and ``name`` say the same thing: ``must-be-literal`` is
    ``must_be_literal.MustBeLiteral``. ``fix_safety`` says whether its findings can be fixed by
    ``lint --fix`` (``None``: never), and whether that fix is safe; each fixable finding carries its
    fix as an edit request (:meth:`fixed`)."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.ERROR
    default_enabled: ClassVar[bool] = True
    fix_safety: ClassVar[FixSafety | None] = None
    valid: ClassVar[tuple[Example, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.summary = " ".join(cls.doc().split("\n\n")[0].split())

    def check(self, ctx: Context) -> Iterator[Diagnostic]:  # pragma: no cover - abstract
        """Yield the findings of this rule in one config."""
        raise NotImplementedError

    def finding(
        self,
        message: str,
        origin: Origin | Span | None,
        *,
        key: str | None = None,
        fix: str | None = None,
        severity: Severity | None = None,
        related: tuple[Related, ...] = (),
        edit: FixEdit | None = None,
        files: tuple[str, ...] = (),
    ) -> Diagnostic:
        """A finding of this rule at ``origin``; ``related`` are the other places it concerns,
        ``edit`` is the fix as an edit request, if the rule can make it (:meth:`fixed`), and
        ``files`` are the files its message names."""
        span = origin.span if isinstance(origin, Origin) else origin
        return Diagnostic(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            span=span,
            key=key,
            fix=fix,
            related=related,
            edit=edit,
            files=files,
        )

    def fixed(
        self,
        title: str,
        *,
        sets: tuple[tuple[str, Any], ...] = (),
        unsets: tuple[str, ...] = (),
        renames: tuple[tuple[str, str], ...] = (),
        replacements: tuple[Replacement, ...] = (),
    ) -> FixEdit:
        """The edit request of a fix of this rule, as safe as the rule declares its fixes; a fix of
        the text itself (a comment) is its ``replacements``."""
        assert self.fix_safety is not None, f"{self.code} declares no fix"
        return FixEdit(self.fix_safety, title, sets, unsets, renames, replacements=replacements)

    @classmethod
    def doc(cls) -> str:
        """The rule's documentation (its docstring, dedented)."""
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")


def unambiguous_match(word: str, candidates: list[str], cutoff: float) -> str | None:
    """The candidate most like ``word`` (difflib's ratio at least ``cutoff``, as its
    ``get_close_matches``), or ``None`` when none is, or when another is as like it: a fix that
    would have to guess is not made."""
    import difflib

    scored = []
    for c in candidates:
        m = difflib.SequenceMatcher(None, word, c)
        if m.real_quick_ratio() >= cutoff and m.quick_ratio() >= cutoff and m.ratio() >= cutoff:
            scored.append((m.ratio(), c))
    scored.sort(key=lambda rc: -rc[0])
    if not scored or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]

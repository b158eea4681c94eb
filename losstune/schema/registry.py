"""The schema of MMDetection's losses and bbox samplers, as data.

The built-in schema lives in ``data/mmdet_schema.yaml`` (read from its compiled form, see
:mod:`losstune.schema.builtin`); users describe their own registered losses
in a YAML file of the same shape (``--schema FILE`` or ``schema = [...]`` under ``[tool.losstune]``).
Each entry lists its parameters with type, default, range, allowed values and a one-line
description, the MMDetection versions that have it, and simple cross-field relations.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from losstune.errors import UsageError
from losstune.loader import fileread
from losstune.loader.source import SourceText
from losstune.model import ComponentKind, Diagnostic, Severity
from losstune.schema.builtin import builtin_data
from losstune.schema.catalogue import bare_type
from losstune.schema.scopes import DEFAULT_SCOPE, TypeRef, resolve_type

_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
}


class SchemaError(UsageError):
    """A schema file that cannot be used; the message names the file and the entry."""


class TypeSpec(Struct, frozen=True):
    """A parameter type such as ``float``, ``list[float]|None``, ``float|list[float]|None`` or ``any``."""

    text: str

    @property
    def alternatives(self) -> tuple[str, ...]:
        """The types a value may have, ``|`` apart (none inside the brackets of ``list[...]``)."""
        return _alternatives(self.text)

    @property
    def nullable(self) -> bool:
        """Whether ``None`` is allowed."""
        return any(t in ("None", "any") for t in self.alternatives)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this type (``bool`` is not a number here)."""
        return any(_accepts(t, value) for t in self.alternatives)


@lru_cache(maxsize=1024)
def _alternatives(text: str) -> tuple[str, ...]:
    """:attr:`TypeSpec.alternatives` of a type's text, split once for every parameter of that type
    (a lint run asks it of each parameter of each loss of each config)."""
    out: list[str] = []
    depth = start = 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            out.append(text[start:i])
            start = i + 1
    return (*out, text[start:])


def _accepts(kind: str, value: Any) -> bool:
    """Whether ``value`` has the type ``kind``, one alternative of a :class:`TypeSpec`."""
    if kind == "any":
        return True
    if kind == "None" or value is None:
        return kind == "None" and value is None
    if kind.startswith("list[") and kind.endswith("]"):
        return isinstance(value, (list, tuple)) and all(TypeSpec(kind[5:-1]).accepts(v) for v in value)
    allowed = _SCALAR_TYPES.get(kind)
    if allowed is None:
        return True
    if isinstance(value, bool) and kind != "bool":
        return False
    return isinstance(value, allowed)


class ParamSpec(Struct, frozen=True):
    """One constructor parameter."""

    name: str
    type: TypeSpec
    description: str = ""
    default: Any = None
    has_default: bool = False
    required: bool = False
    versions: tuple[int, ...] = (2, 3)
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    exclusive_min: float | None = None
    literal: bool = False
    internal: bool = False

    def range_text(self) -> str:
        """The allowed range, as a person would write it."""
        parts = []
        if self.exclusive_min is not None:
            parts.append(f"> {self.exclusive_min:g}")
        elif self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)

    def in_range(self, value: float) -> bool:
        """Whether a number is finite and satisfies ``min``, ``max`` and ``exclusive_min``."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.min is not None and value < self.min:
            return False
        if self.max is not None and value > self.max:
            return False
        return not (self.exclusive_min is not None and value <= self.exclusive_min)


class Entry(Struct, frozen=True):
    """A loss or a bbox sampler type, registered in the registry of the scope ``registry``.

    ``accepts_unknown_keys``: it takes parameters it does not list and ignores them;
    ``uses_unknown_keys``: it takes any parameter and may use it, so none is unknown.
    ``from_source``: it was read from the source of a module ``custom_imports`` names, which does
    not make its registry one losstune describes (other types of it are not known to be missing)."""

    name: str
    kind: ComponentKind
    params: dict[str, ParamSpec]
    versions: tuple[int, ...] = (2, 3)
    summary: str = ""
    formula: str = ""
    symbols: dict[str, str] = field(default_factory=dict)
    category: str = ""
    balances_itself: bool = False
    accepts_unknown_keys: bool = False
    uses_unknown_keys: bool = False
    exclusive: tuple[tuple[str, ...], ...] = ()
    requires: tuple[tuple[str, str], ...] = ()
    source: str = "MMDetection"
    registry: str = DEFAULT_SCOPE
    from_source: bool = False
    registered_by: tuple[tuple[int, str], ...] = ()

    def params_for(self, version: int) -> dict[str, ParamSpec]:
        """The parameters this type takes in MMDetection ``version``."""
        return {k: p for k, p in self.params.items() if version in p.versions}

    def project_in(self, version: int) -> str:
        """The project that registers this type in MMDetection ``version``'s registry: ``source``,
        or another project where ``registered_by`` says so (MMTracking 0.x registers its losses
        into MMDetection 2.x's)."""
        return dict(self.registered_by).get(version, self.source)


class Schema(Struct):
    """Every known loss and sampler, by the registry it is registered in; later entries (user
    schemas) replace earlier ones of the same registry and name."""

    registries: dict[str, dict[str, Entry]] = field(default_factory=dict)

    @property
    def entries(self) -> dict[str, Entry]:
        """MMDetection's entries, by name (the registry of a config that names no scope)."""
        return self.registries.get(DEFAULT_SCOPE, {})

    def add(self, entries: Iterable[Entry]) -> None:
        """Add or replace entries."""
        for e in entries:
            self.registries.setdefault(e.registry, {})[e.name] = e

    def extended(self, entries: Iterable[Entry]) -> Schema:
        """A copy of this schema with ``entries`` added (this one is left as it is)."""
        out = Schema({scope: dict(known) for scope, known in self.registries.items()})
        out.add(entries)
        return out

    def all_entries(self) -> list[Entry]:
        """Every entry of every registry, MMDetection's first."""
        order = sorted(self.registries, key=lambda scope: (scope != DEFAULT_SCOPE, scope))
        return [e for scope in order for e in self.registries[scope].values()]

    def describes_any(self) -> bool:
        """Whether this schema has any entry."""
        return any(self.registries.values())

    def knows(self, registry: str | None) -> bool:
        """Whether this schema describes the losses of ``registry`` (a scope such as ``mmyolo``)."""
        return registry is not None and any(not e.from_source for e in self.registries.get(registry, {}).values())

    def unchecked(self, ref: TypeRef) -> bool:
        """Whether nothing checks the type ``ref`` names: this schema has no entry for it, and its
        registry is one this schema does not describe (another project's, or not known)."""
        return self.lookup(ref) is None and not self.knows(ref.registry)

    def lookup(self, ref: TypeRef) -> Entry | None:
        """The entry a resolved type names, if its registry has one by that name."""
        if ref.registry is None:
            return None
        return self.registries.get(ref.registry, {}).get(ref.name)

    def get(self, type_name: str, scope: str | None = DEFAULT_SCOPE) -> Entry | None:
        """The entry for a config ``type`` in ``scope`` (MMDetection's by default): ``FocalLoss``,
        ``mmdet.FocalLoss`` or a module path such as ``mmdet.models.losses.focal_loss.FocalLoss``;
        a name of another registry gives that registry's entry or ``None``."""
        return self.lookup(resolve_type(type_name, scope))

    def names(self, kind: ComponentKind | None = None, registry: str = DEFAULT_SCOPE) -> list[str]:
        """Known type names of one registry, of one kind or all."""
        known = self.registries.get(registry, {})
        return [n for n, e in known.items() if kind is None or e.kind == kind]

    def suggest(self, type_name: str, kind: ComponentKind | None = None, registry: str = DEFAULT_SCOPE) -> str | None:
        """The closest name in ``registry`` to a probable typo, if one is close."""
        import difflib

        names = self.names(kind, registry)
        close = difflib.get_close_matches(bare_type(type_name), names, n=1, cutoff=0.8)
        return close[0] if close else None

    def suggest_elsewhere(self, type_name: str) -> str | None:
        """The closest name of another registry than MMDetection's to ``type_name``, with its
        prefix (``GDLoss`` -> ``mmrotate.GDLoss``), if one is close."""
        import difflib

        qualified = {f"{e.registry}.{e.name}": e.name for e in self.all_entries() if e.registry != DEFAULT_SCOPE}
        close = difflib.get_close_matches(bare_type(type_name), list(qualified.values()), n=1, cutoff=0.8)
        return next(q for q, n in qualified.items() if n == close[0]) if close else None


def _flag(raw: dict[Any, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise SchemaError(f"{where}: `{key}` must be true or false")
    return value


def _number(raw: dict[Any, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SchemaError(f"{where}: `{key}` must be a number")
    return value


def _versions(raw: dict[Any, Any], default: tuple[int, ...], where: str) -> tuple[int, ...]:
    value = raw.get("versions", default)
    if not isinstance(value, (list, tuple)) or not all(type(v) is int and v in (2, 3) for v in value):
        raise SchemaError(f"{where}: `versions` must list MMDetection versions, such as [2, 3]")
    return tuple(value)


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SchemaError(f"{where}: {what} must be a list of parameter names")
    return tuple(value)


def _param(name: str, raw: Any, where: str, versions: tuple[int, ...]) -> ParamSpec:
    at = f"{where}: parameter `{name}`"
    if not isinstance(raw, dict):
        raise SchemaError(f"{at} must be a mapping")
    unknown = set(raw) - {
        "type",
        "description",
        "default",
        "required",
        "versions",
        "choices",
        "min",
        "max",
        "exclusive_min",
        "literal",
        "internal",
    }
    if unknown:
        raise SchemaError(f"{at} has unknown fields {sorted(map(str, unknown))}")
    choices = raw.get("choices")
    if choices is not None and not isinstance(choices, (list, tuple)):
        raise SchemaError(f"{at}: `choices` must be a list of values")
    kind = raw.get("type", "any")
    if not isinstance(kind, str):
        raise SchemaError(f"{at}: `type` must be a type such as float or list[int]|None")
    return ParamSpec(
        name=name,
        type=TypeSpec(kind.replace(" ", "")),
        description=str(raw.get("description", "")),
        default=raw.get("default"),
        has_default="default" in raw,
        required=_flag(raw, "required", False, at),
        versions=_versions(raw, versions, at),
        choices=tuple(choices) if choices is not None else None,
        min=_number(raw, "min", at),
        max=_number(raw, "max", at),
        exclusive_min=_number(raw, "exclusive_min", at),
        literal=_flag(raw, "literal", False, at),
        internal=_flag(raw, "internal", False, at),
    )


def _registered_by(raw: Any, versions: tuple[int, ...], at: str) -> dict[int, str]:
    """``{2: 'MMTracking 0.14.0'}`` (keys may be JSON's strings of the versions)."""
    out: dict[int, str] = {}
    if isinstance(raw, dict):
        for key, project in raw.items():
            version = int(key) if isinstance(key, str) and key.isdigit() else key
            if type(version) is not int or version not in versions or not isinstance(project, str):
                break
            out[version] = project
        else:
            return out
    raise SchemaError(f"{at}: `registered_by` must map MMDetection versions of the entry to project names")


def _entry(raw: Any, kind: ComponentKind, where: str, source: str) -> Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SchemaError(f"{where}: every {kind} needs a `name`")
    name = raw["name"]
    at = f"{where}: {kind} `{name}`"
    params_raw = raw.get("params") or {}
    if not isinstance(params_raw, dict):
        raise SchemaError(f"{at}: `params` must be a mapping of parameter names")
    entry_versions = _versions(raw, (2, 3), at)
    params = {str(k): _param(str(k), v, at, entry_versions) for k, v in params_raw.items()}
    symbols = raw.get("symbols") or {}
    if not isinstance(symbols, dict):
        raise SchemaError(f"{at}: `symbols` must be a mapping of symbol = meaning")
    exclusive = raw.get("exclusive") or ()
    if not isinstance(exclusive, (list, tuple)):
        raise SchemaError(f"{at}: `exclusive` must be a list of lists of parameter names")
    registered_by = _registered_by(raw.get("registered_by") or {}, entry_versions, at)
    requires = raw.get("requires") or ()
    if not isinstance(requires, (list, tuple)) or not all(
        isinstance(r, dict) and isinstance(r.get("if"), str) and isinstance(r.get("then"), str) for r in requires
    ):
        raise SchemaError(f"{at}: `requires` must be a list of {{if: parameter, then: parameter}}")
    return Entry(
        name=name,
        kind=kind,
        params=params,
        versions=entry_versions,
        summary=str(raw.get("summary", "")),
        formula=str(raw.get("formula", "")),
        symbols={str(k): str(v) for k, v in symbols.items()},
        category=str(raw.get("category", "")),
        balances_itself=_flag(raw, "balances_itself", False, at),
        accepts_unknown_keys=_flag(raw, "accepts_unknown_keys", kind == "sampler", at),
        exclusive=tuple(_strings(g, "each group of `exclusive`", at) for g in exclusive),
        requires=tuple((r["if"], r["then"]) for r in requires),
        source=source,
        registered_by=tuple(sorted(registered_by.items())),
    )


def parse_schema(data: Any, where: str) -> list[Entry]:
    """Entries from the data of a schema file: ``losses:`` and ``samplers:`` lists, and optionally
    the ``registry:`` scope they are registered in (``mmdet`` when absent) and the ``project:``
    that registers them (the file's name when absent)."""
    if data is None:
        return []
    if isinstance(data, list):  # a bare list of losses
        data = {"losses": data}
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: a schema file holds `losses:` and `samplers:` lists")
    registry = data.get("registry", DEFAULT_SCOPE)
    if not isinstance(registry, str) or not registry.isidentifier():
        raise SchemaError(f"{where}: `registry` must be a registry scope such as mmdet or mmyolo")
    source = data.get("project", where)
    if not isinstance(source, str):
        raise SchemaError(f"{where}: `project` must be the name of the project that registers these types")
    out: list[Entry] = []
    kinds: tuple[tuple[str, ComponentKind], ...] = (("losses", "loss"), ("samplers", "sampler"))
    for key, kind in kinds:
        entries = data.get(key) or ()
        if not isinstance(entries, (list, tuple)):
            raise SchemaError(f"{where}: `{key}` must be a list of {kind} entries")
        out += [replace(_entry(e, kind, where, source), registry=registry) for e in entries]
    return out


def _read_yaml(text: str, shown: str) -> Any:
    """A user's schema file, read as configs are read (positions, limits, no Python objects)."""
    from losstune.loader.yamlread import read_yaml  # the YAML parser, only when there is a file

    diagnostics: list[Diagnostic] = []
    data = read_yaml(SourceText.plain(shown, text), diagnostics)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        where = f"{shown}:{first.span.line}:{first.span.column}" if first.span else shown
        raise SchemaError(f"{where}: not a usable YAML file: {first.message}")
    return data


@lru_cache(maxsize=1)
def builtin_entries() -> tuple[Entry, ...]:
    """The losses and samplers shipped with losstune: MMDetection's and other projects'."""
    return tuple(e for name, data in builtin_data() for e in parse_schema(data, name))


def load_schema(extra_files: Iterable[str | os.PathLike[str]] = (), max_file_size: int | None = None) -> Schema:
    """The built-in schema plus users' schema files (which may replace built-in entries); files
    larger than ``max_file_size`` bytes (by default :func:`losstune.loader.fileread.current_limit`) are
    not read."""
    schema = Schema()
    schema.add(builtin_entries())
    for path in extra_files:
        shown = os.fspath(path)
        try:
            text = fileread.read_text(shown, max_file_size)
        except fileread.DecodeError as e:
            raise SchemaError(f"{shown}:{e.position.line}:{e.position.column}: {e.reason}") from None
        except fileread.ReadError as e:
            raise SchemaError(f"{shown} {e.reason}") from None
        schema.add(parse_schema(_read_yaml(text, shown), shown))
    return schema

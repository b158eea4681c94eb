"""Schema entries for the classes a config's ``custom_imports`` registers.

The modules are read as source by :mod:`losstune.loader.customimports`, never imported. Each class
registered in a registry that losses or samplers are built from becomes an entry of that registry's
scope (found by its name there, without making the registry one whose other types are known to be
missing): a sampler where a base class is a ``...Sampler``, else a loss; its parameters are those of
its constructor (of type ``any``: losstune does not infer types), each with its default where that
is a literal, required where it has none. A class registered under the name of an MMDetection
one replaces it only with ``force=True``, as mmengine's registry does; one described in a user's
schema file (``--schema``) keeps that description.

The modules are parsed only when a question asked of the schema could depend on them: where no
module they can reach could register a type of that name in that registry, read from their texts
(:mod:`losstune.loader.customscan`), the answer is the schema's own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from losstune.loader.values import to_plain
from losstune.model import ComponentKind
from losstune.schema.registry import Entry, ParamSpec, Schema, TypeSpec, builtin_entries
from losstune.schema.scopes import DEFAULT_SCOPE, TypeRef

if TYPE_CHECKING:  # the source readers are imported only for a config that has custom imports
    from losstune.loader.customimports import CustomClass, CustomModules, UnreadModule
    from losstune.loader.customscan import ModuleTexts
    from losstune.loader.registrations import Param

BUILD_REGISTRIES = frozenset({"MODELS", "LOSSES", "TASK_UTILS", "BBOX_SAMPLERS"})
"""The registries MMDetection builds losses (``MODELS``, 2.x's ``LOSSES``) and samplers
(``TASK_UTILS``, 2.x's ``BBOX_SAMPLERS``) from."""


class CustomSchema:
    """The schema with a config's custom classes in it (``schema``), and the modules that could not
    be read (``unread``)."""

    __slots__ = ("_unread", "schema")

    def __init__(self, schema: Schema, unread: tuple[UnreadModule, ...] = ()) -> None:
        self.schema = schema
        self._unread = unread

    @property
    def unread(self) -> tuple[UnreadModule, ...]:
        """The modules of ``custom_imports`` that could not be read (they are read to tell)."""
        return self.schema.read().unread if isinstance(self.schema, DeferredSchema) else self._unread


class DeferredSchema(Schema):
    """A schema with the classes a config's custom imports register, whose modules are read only
    when a question could depend on them (see the module's docstring). ``registries`` are those of
    the schema without them, until the modules are read; every method answers as the schema with
    them would."""

    texts: ModuleTexts | None = None
    reader: Callable[[], CustomSchema] | None = None
    found: CustomSchema | None = None

    def read(self) -> CustomSchema:
        """The schema with the classes in it, the modules read (once)."""
        if self.found is None:
            assert self.reader is not None
            self.found = self.reader()
        return self.found

    def _unaffected(self, scope: str, name: str | None = None) -> bool:
        return self.found is None and self.texts is not None and not self.texts.may_register(scope, name)

    @property
    def entries(self) -> dict[str, Entry]:
        return self.read().schema.entries

    def add(self, entries: Iterable[Entry]) -> None:
        self.read().schema.add(entries)

    def extended(self, entries: Iterable[Entry]) -> Schema:
        return self.read().schema.extended(entries)

    def all_entries(self) -> list[Entry]:
        return self.read().schema.all_entries()

    def describes_any(self) -> bool:
        return super().describes_any() or self.read().schema.describes_any()

    def knows(self, registry: str | None) -> bool:
        if registry is not None and self._unaffected(registry):
            return super().knows(registry)
        return self.read().schema.knows(registry)

    def lookup(self, ref: TypeRef) -> Entry | None:
        if ref.registry is not None and self._unaffected(ref.registry, ref.name):
            return super().lookup(ref)
        return self.read().schema.lookup(ref)

    def names(self, kind: ComponentKind | None = None, registry: str = DEFAULT_SCOPE) -> list[str]:
        return self.read().schema.names(kind, registry)

    def suggest(self, type_name: str, kind: ComponentKind | None = None, registry: str = DEFAULT_SCOPE) -> str | None:
        return self.read().schema.suggest(type_name, kind, registry)

    def suggest_elsewhere(self, type_name: str) -> str | None:
        return self.read().schema.suggest_elsewhere(type_name)


def with_custom_imports(
    schema: Schema, tree: Mapping[str, Any], config_path: str, kept: dict[Hashable, CustomSchema] | None = None
) -> CustomSchema:
    """``schema`` extended with the classes registered by the ``custom_imports`` of the resolved
    config ``tree`` (of the file ``config_path``); ``schema`` itself where it has none. The
    modules are read when a question needs them (:class:`DeferredSchema`).

    ``kept`` holds what was found for other configs while their files cannot have changed (one
    lint run): a config that names the same modules, of the same folder or of one whose search
    path holds the same of their packages (they are searched for on ``sys.path``, then from the
    config's folder up), finds the same classes, so they are not searched for and read again."""
    value = tree.get("custom_imports")
    if value is None:
        return CustomSchema(schema)
    from losstune.loader.customimports import module_names

    plain = to_plain(value)
    if kept is None:
        return _deferred(schema, plain, config_path)
    names, unread = module_names(plain)
    here = (os.path.dirname(config_path), tuple(names), tuple(unread))
    found = kept.get(here)
    if found is None:
        alike = (_search_alike(config_path, names), tuple(names), tuple(unread))
        found = kept.get(alike)
        if found is None:
            found = kept[alike] = _deferred(schema, plain, config_path)
        kept[here] = found
    return found


def _deferred(schema: Schema, value: object, config_path: str) -> CustomSchema:
    """``schema`` with the classes the ``custom_imports`` value registers, its modules read only
    when a question needs them; read now where their texts cannot be bounded."""
    from losstune.loader import customimports
    from losstune.loader.customscan import scan

    def read() -> CustomSchema:
        return _extended(schema, customimports.read_custom_imports(value, config_path))

    texts = scan(value, config_path)
    if texts is None:
        return read()
    return CustomSchema(DeferredSchema(schema.registries, texts=texts, reader=read))


def _search_alike(config_path: str, names: list[str]) -> Hashable:
    """What decides where the modules ``names`` are found for the config ``config_path``: the
    entries of the path they are searched on (``sys.path``, the current folder, then the folders
    above the config) that hold a file or folder of one of their top-level names, in order, and
    the site folders whose ``.pth`` files count. Every module the search reads is below one of
    those names, and an entry that holds none of them adds nothing to it, so configs of two
    folders that give the same find the same modules (the folders of one tree differ only in the
    entries below their common one, which hold configs)."""
    from losstune.loader.customimports import search_path
    from losstune.loader.pkgfind import default_site_dirs

    tops = {n.partition(".")[0] for n in names}
    path = search_path(sys.path, config_path)
    return tuple(entry for entry in path if _holds_any(entry, tops)), tuple(default_site_dirs(path))


def _holds_any(folder: str, tops: set[str]) -> bool:
    """Whether ``folder`` holds something the import system could take for one of the modules
    ``tops``: an entry of that name, or of that name and a suffix (``.py``, ``.so``...)."""
    try:
        listed = os.listdir(folder)
    except (OSError, ValueError):
        return False  # the import system finds nothing in it either
    return any(name == top or name.startswith(top + ".") for name in listed for top in tops)


def _extended(schema: Schema, found: CustomModules) -> CustomSchema:
    """``schema`` with the classes ``found`` that losses or samplers are built from."""
    builtin = {id(e) for e in builtin_entries()}
    known = {(e.registry, e.name): id(e) in builtin for e in schema.all_entries()}
    entries: list[Entry] = []
    for cls in found.classes:
        if cls.registry not in BUILD_REGISTRIES:
            continue
        for entry in entries_of(cls):
            replaceable = known.get((entry.registry, entry.name))
            if replaceable is None or (replaceable and cls.force):
                known[(entry.registry, entry.name)] = False
                entries.append(entry)
    return CustomSchema(schema.extended(entries) if entries else schema, found.unread)


def entries_of(cls: CustomClass) -> list[Entry]:
    """One entry for each name ``cls`` is registered under."""
    is_sampler = any(base.rpartition(".")[2].endswith("Sampler") for base in cls.bases)
    params = {p.name: _param(p) for p in cls.params}
    return [
        Entry(
            name=name,
            kind="sampler" if is_sampler else "loss",
            params=params,
            summary=f"`{cls.class_name}`, registered by `{cls.module}` (read from its source).",
            accepts_unknown_keys=cls.var_keyword,
            uses_unknown_keys=cls.accepts_any,
            source=f"{cls.module} ({cls.file}:{cls.line})",
            registry=cls.scope,
            from_source=True,
        )
        for name in cls.names
    ]


def _param(p: Param) -> ParamSpec:
    if p.has_default and not p.literal:
        # A default computed when the class is defined: known to exist, its value unknown.
        return ParamSpec(p.name, TypeSpec("any"), description=f"default: {p.default_text}")
    return ParamSpec(p.name, TypeSpec("any"), default=p.default, has_default=p.has_default, required=not p.has_default)

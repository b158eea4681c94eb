"""Schema entries for the classes a config's ``custom_imports`` registers.

The modules are read as source by :mod:`losstune.loader.customimports`, never imported. Each class
registered in a registry that losses or samplers are built from becomes an entry of that registry's
scope (found by its name there, without making the registry one whose other types are known to be
missing): a sampler where a base class is a ``...Sampler``, else a loss; its parameters are those of
its constructor (of type ``any``: losstune does not infer types), each with its default where that
is a literal, required where it has none. A class registered under the name of an MMDetection
one replaces it only with ``force=True``, as mmengine's registry does; one described in a user's
schema file (``--schema``) keeps that description.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from losstune.loader.values import to_plain
from losstune.schema.registry import Entry, ParamSpec, Schema, TypeSpec, builtin_entries

if TYPE_CHECKING:  # the source readers are imported only for a config that has custom imports
    from losstune.loader.customimports import CustomClass, CustomModules, UnreadModule
    from losstune.loader.registrations import Param

BUILD_REGISTRIES = frozenset({"MODELS", "LOSSES", "TASK_UTILS", "BBOX_SAMPLERS"})
"""The registries MMDetection builds losses (``MODELS``, 2.x's ``LOSSES``) and samplers
(``TASK_UTILS``, 2.x's ``BBOX_SAMPLERS``) from."""


class CustomSchema(Struct, frozen=True):
    """The schema with a config's custom classes in it, and the modules that could not be read."""

    schema: Schema
    unread: tuple[UnreadModule, ...] = ()


def with_custom_imports(
    schema: Schema, tree: Mapping[str, Any], config_path: str, kept: dict[Hashable, CustomSchema] | None = None
) -> CustomSchema:
    """``schema`` extended with the classes registered by the ``custom_imports`` of the resolved
    config ``tree`` (of the file ``config_path``); ``schema`` itself where it has none.

    ``kept`` holds what was found for other configs while their files cannot have changed (one
    lint run): a config that names the same modules, of the same folder or of one whose search
    path holds the same of their packages (they are searched for on ``sys.path``, then from the
    config's folder up), finds the same classes, so they are not searched for and read again."""
    value = tree.get("custom_imports")
    if value is None:
        return CustomSchema(schema)
    from losstune.loader.customimports import module_names, read_custom_imports

    plain = to_plain(value)
    if kept is None:
        return _extended(schema, read_custom_imports(plain, config_path))
    names, unread = module_names(plain)
    here = (os.path.dirname(config_path), tuple(names), tuple(unread))
    found = kept.get(here)
    if found is None:
        alike = (_search_alike(config_path, names), tuple(names), tuple(unread))
        found = kept.get(alike)
        if found is None:
            found = kept[alike] = _extended(schema, read_custom_imports(plain, config_path))
        kept[here] = found
    return found


def _search_alike(config_path: str, names: list[str]) -> Hashable:
    """What decides where the modules ``names`` are found for the config ``config_path``: the
    entries of the path they are searched on (``sys.path``, the current folder, then the folders
    above the config) that hold a file or folder of one of their top-level names, in order, and
    the site folders whose ``.pth`` files count. Every module the search reads is below one of
    those names, and an entry that holds none of them adds nothing to it, so configs of two
    folders that give the same find the same modules (the folders of one tree differ only in the
    entries below their common one, which hold configs)."""
    from losstune.loader.customimports import _search_path
    from losstune.loader.pkgfind import default_site_dirs

    tops = {n.partition(".")[0] for n in names}
    path = _search_path(sys.path, config_path)
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

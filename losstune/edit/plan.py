"""Turn ``KEY=VALUE`` requests into the resolved config they ask for, checked against the schema.

The edits are applied to a copy of the resolved tree, then every lint rule runs on it: an edit
that makes a new error (an unknown parameter, a wrong type, a value out of range, a missing
required parameter after a type swap...) is refused before any file is touched.
"""

from __future__ import annotations

import copy
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from losstune import keypath
from losstune.config import LoadedConfig, origin_at
from losstune.edit.hints import wrong_type_fix
from losstune.edit.values import Assignment
from losstune.errors import EditFailure
from losstune.keypath import KeyPathError, Path, format_path
from losstune.lint.run import check_config
from losstune.lint.settings import Settings
from losstune.loader.envmask import EnvMask
from losstune.loader.resolve import FileResult
from losstune.loader.values import LDict, Opaque, same_value
from losstune.locate import is_bbox_sampler, is_loss
from losstune.model import Diagnostic, Severity
from losstune.render.paths import message
from losstune.rules.wrong_type import WrongType
from losstune.schema.custom import with_custom_imports
from losstune.schema.mmdet_version import detect_version
from losstune.schema.registry import Schema
from losstune.schema.scopes import type_at

DELETE = object()
MISSING = object()


class EditError(EditFailure):
    """An edit that cannot be made; ``lines`` say why, one finding or reason each, and ``after``
    what state the files are in."""


class Change(Struct):
    """One value of the resolved config that changes (``new`` is ``DELETE`` when removed)."""

    path: Path
    old: Any
    new: Any


class Plan(Struct):
    """The resolved config after the edits, what changed, and what to tell the user."""

    config: LoadedConfig
    tree: LDict
    changes: list[Change]
    whole: list[Path]  # dicts that must be written whole (a type swap or a removed parameter)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    renames: list[tuple[Path, Path]] = field(default_factory=list)  # (old, new) paths of renamed keys


def _node_paths(tree: Any, key: str, allow_new: bool) -> list[Path]:
    try:
        return keypath.resolve(tree, key)
    except KeyPathError as err:
        if not allow_new or "." not in key or "ambiguous" in str(err):
            raise EditError(str(err), [f"candidate: {c}" for c in err.candidates]) from None
        parent_key, last = key.rsplit(".", 1)
        try:
            parents = keypath.resolve(tree, parent_key)
        except KeyPathError as parent_err:
            raise EditError(str(err), [f"candidate: {c}" for c in err.candidates or parent_err.candidates]) from None
        paths = []
        for p in parents:
            if not isinstance(keypath.get(tree, p), dict):
                raise EditError(f"`{format_path(p)}` is not a dict, so `{last}` cannot be set in it") from None
            paths.append((*p, last))
        return paths


def _is_component(path: Path, value: Any) -> bool:
    return is_loss(path, value) or is_bbox_sampler(path, value)


def plan_edits(config: LoadedConfig, assignments: list[Assignment], schema: Schema, settings: Settings) -> Plan:
    """Apply ``assignments`` to a copy of ``config``'s resolved tree and check the result; a plan
    with no ``changes`` when every value is already what the config resolves to. The classes the
    config's ``custom_imports`` registers are known types."""
    schema = with_custom_imports(schema, config.tree, config.path).schema
    tree = copy.deepcopy(config.tree)
    changes: list[Change] = []
    whole: list[Path] = []
    notes: list[str] = []
    warnings: list[str] = []
    typed: dict[str, tuple[Path, Assignment]] = {}
    renames: list[tuple[Path, Path]] = []
    for a in assignments:
        for path in _node_paths(tree, a.key, allow_new=not (a.unset or a.rename)):
            typed[format_path(path)] = (path, a)
            parent = keypath.get(tree, path[:-1]) if len(path) > 1 else tree
            last = path[-1]
            old = parent[last] if (isinstance(parent, dict) and last in parent) else MISSING
            if isinstance(old, Opaque):
                raise EditError(
                    f"`{format_path(path)}` is computed by code losstune does not run ({old.text}); edit it by hand"
                )
            if a.rename is not None:
                new_path = _rename(parent, path, a.rename, config.files)
                changes += [Change(path, old, DELETE), Change(new_path, MISSING, old)]
                renames.append((path, new_path))
                continue
            if a.unset:
                if old is MISSING:
                    raise EditError(f"`{format_path(path)}` is not set, so it cannot be unset")
                del parent[last]
                changes.append(Change(path, old, DELETE))
                if path[:-1] not in whole:
                    whole.append(path[:-1])
                continue
            if isinstance(parent, list):
                if not isinstance(last, int) or last >= len(parent):
                    raise EditError(f"`{format_path(path)}` is past the end of the list")
                parent[last] = a.value
                changes.append(Change(path, old, a.value))
                continue
            if last == "type" and _is_component(path[:-1], parent) and old != a.value:
                dropped = _swap_type(tree, parent, path, a.value, schema, settings, notes, warnings)
                changes.append(Change(path, old, a.value))
                for k, was in dropped.items():
                    changes.append(Change((*path[:-1], k), was, DELETE))
                if dropped and path[:-1] not in whole:
                    whole.append(path[:-1])
                continue
            if old is not MISSING and same_value(old, a.value):
                notes.append(f"`{format_path(path)}` is already {a.value!r}")
                continue
            parent.set(last, a.value, None)
            changes.append(Change(path, old, a.value))
    if not changes:  # every requested value is already what the config resolves to
        return Plan(config, tree, [], [], notes, warnings)
    _check(config, tree, changes, whole, schema, settings, typed)
    return Plan(config, tree, changes, whole, notes, warnings, renames)


def _rename(parent: Any, path: Path, new: str, files: list[str]) -> Path:
    """Rename the key at ``path`` of the dict ``parent`` to ``new`` in its place, keeping its
    value and origin; the new path. Where another file of the config (``files``: the config, then
    its bases, nearest first) writes ``new`` too, the value of the file nearer the config wins, as
    it will when the key is renamed where it is written."""
    last = path[-1]
    if not isinstance(parent, LDict) or last not in parent:
        raise EditError(f"`{format_path(path)}` is not a key of a dict, so it cannot be renamed")
    items, origins = list(parent.items()), dict(parent.origins)
    if new in parent:
        mine, theirs = origins.get(last), origins.get(new)
        if mine is None or theirs is None or mine.span.file == theirs.span.file:
            raise EditError(f"`{format_path((*path[:-1], new))}` is set already, so `{last}` cannot be renamed to it")
        order = {f: i for i, f in enumerate(files)}
        if order.get(mine.span.file, len(order)) > order.get(theirs.span.file, len(order)):
            items = [(k, v) for k, v in items if k != last]  # the nearer file's `new` stays
        else:
            items = [(k, v) for k, v in items if k != new]
            origins.pop(new)
    parent.clear()
    for k, v in items:
        parent.set(new if k == last else k, v, origins.get(new if k == new else k))
    return (*path[:-1], new)


def _swap_type(
    tree: LDict,
    node: LDict,
    path: Path,
    new_type: Any,
    schema: Schema,
    settings: Settings,
    notes: list[str],
    warnings: list[str],
) -> dict[str, Any]:
    """Set a new ``type``, dropping the parameters the new type does not take; return them with
    the values they had."""
    version = settings.mmdet_version or detect_version(tree)
    ref = type_at(tree, path[:-1], str(new_type), version)
    entry = schema.lookup(ref)
    node["type"] = new_type
    if entry is None:
        warnings.append(f"`{new_type}` is not a known {ref.owner} type: its parameters are kept as they are, unchecked")
        return {}
    accepted = entry.params_for(version)
    dropped = {
        k: v
        for k, v in node.items()
        if k not in ("type", "_scope_") and k not in accepted and not entry.uses_unknown_keys
    }
    for k in dropped:
        del node[k]
    if dropped:
        notes.append(
            f"`{format_path(path[:-1])}`: {new_type} does not take {', '.join(f'`{k}`' for k in dropped)}, "
            "so they are dropped"
        )
    return dropped


def _check(
    config: LoadedConfig,
    tree: LDict,
    changes: list[Change],
    whole: list[Path],
    schema: Schema,
    settings: Settings,
    typed: dict[str, tuple[Path, Assignment]],
) -> None:
    """Refuse the edit if the edited config has an error that the original does not."""
    edited = {format_path(c.path[:-1]) for c in changes} | {format_path(w) for w in whole}
    edited |= {format_path(c.path) for c in changes}
    before = {(d.code, d.key) for d in check_config(config, schema, settings) if d.severity is Severity.ERROR}
    # The same sources: the edited tree's origins point into them, and its findings are masked by them.
    after_config = LoadedConfig(FileResult(config.path, tree, [], config.files, config.sources))
    after = [d for d in check_config(after_config, schema, settings) if d.severity is Severity.ERROR]
    new = [
        d
        for d in after
        if (d.code, d.key) not in before
        and (d.key is None or any(d.key == e or d.key.startswith(e + ".") or e.startswith(d.key + ".") for e in edited))
    ]
    if new:
        new = [replace(d, fix=_typed_fix(config, tree, d, typed, schema, settings) or d.fix) for d in new]
        lines = [f"{d.code} {d.name}: {message(d)}" + (f" (fix: {d.fix})" if d.fix else "") for d in new]
        raise EditError("the edit would make the config invalid", lines, refused_by=new)


def _typed_fix(
    config: LoadedConfig,
    tree: LDict,
    d: Diagnostic,
    typed: dict[str, tuple[Path, Assignment]],
    schema: Schema,
    settings: Settings,
) -> str | None:
    """A wrong type that the command line gave: the fix in terms of what was typed."""
    if d.code != WrongType.code or d.key not in typed:
        return None
    path, a = typed[d.key]
    node = keypath.get(tree, path[:-1])
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return None
    version = settings.mmdet_version or detect_version(tree)
    entry = schema.lookup(type_at(tree, path[:-1], node["type"], version))
    spec = entry.params_for(version).get(str(path[-1])) if entry is not None else None
    if spec is None:
        return None
    try:
        old = keypath.get(config.tree, path)
    except (KeyError, IndexError, TypeError):  # a parameter the edit adds
        old = MISSING
    if old is not MISSING and EnvMask.of(config).names(old, origin_at(config.tree, path)):
        old = MISSING  # a value from the environment is never shown
    return wrong_type_fix(a, str(path[-1]), spec.type, old)

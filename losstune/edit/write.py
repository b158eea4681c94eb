"""Where each change is written, and the new text of every file it touches.

A value written in the config itself is replaced where it stands. A value inherited from a base
becomes the smallest override that mmengine resolves to the wanted config: merged into the
config's existing assignments, the whole list where the path crosses a list (mmengine replaces
lists whole), and ``_delete_=True`` with the whole dict where parameters must disappear from an
inherited dict (a type swap, ``--unset``). A renamed key is renamed where it is written (only its
name changes), where that is the one place it comes from; else it is removed and added as
``--unset`` and a new key are. With ``in_base`` the file that writes the value is edited instead.
"""

from __future__ import annotations

import os
import re
from typing import Any

from msgspec import Struct, field

from losstune import keypath
from losstune.config import origin_at
from losstune.edit.datawrite import json_override, yaml_override, yaml_replacement
from losstune.edit.plan import DELETE, MISSING, EditError, Plan
from losstune.edit.pywrite import TextEdit, Whole, WriteError, apply_edits, dict_edits, python_override
from losstune.edit.values import closing_style, is_name, json_literal, line_length, python_literal, yaml_literal
from losstune.keypath import Path, format_path
from losstune.loader import pysource
from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Origin
from losstune.render import paths


class FileChange(Struct):
    """The old and new text of one file."""

    path: str
    old: str
    new: str
    created: bool = False


class Written(Struct):
    """Every file an edit changes, and what to tell the user about where values went."""

    files: dict[str, FileChange] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _exact_origin(tree: Any, path: Path) -> Origin | None:
    """The origin recorded for ``path`` itself (not inherited from a parent)."""
    try:
        parent = keypath.get(tree, path[:-1]) if len(path) > 1 else tree
    except (KeyError, IndexError, TypeError):
        return None
    return parent.origins.get(path[-1]) if isinstance(parent, LDict) else None


def _at(tree: Any, path: Path) -> Any:
    try:
        return keypath.get(tree, path) if tree is not None else None
    except (KeyError, IndexError, TypeError):
        return None


def _brings_back(under: Any, new: dict[Any, Any]) -> bool:
    """Whether merging ``new`` into ``under`` (what the bases give) keeps a key ``new`` lacks."""
    if not isinstance(under, dict):
        return False
    return any(k not in new or (isinstance(new[k], dict) and _brings_back(v, new[k])) for k, v in under.items())


def _literal(path: str, value: Any, column: int, indent: int, width: int, tail: int, close: str) -> str:
    if path.endswith(".py"):
        return python_literal(value, indent, width, column=column, tail=tail, close=close)
    if path.endswith(".json"):
        return json_literal(value)
    return yaml_literal(value)


def _same_file(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _steps(dotted: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in dotted.split(".")]


def _users_of(tree: Any, origin: Origin, skip: Path) -> list[str]:
    """Other keys whose value is written at the same place (a shared variable)."""
    out = []
    for path, _ in keypath.walk(tree):
        if path != skip and _exact_origin(tree, path) == origin:
            out.append(format_path(path))
    return out


def plan_files(plan: Plan, target: str, in_base: bool = False) -> Written:
    """The text of every file the plan changes. ``target`` is the config being edited."""
    cfg = plan.config
    written = Written()
    inplace: dict[str, list[TextEdit]] = {}
    override: dict[Any, Any] = {}

    def source_of(file: str) -> SourceText:
        for p, src in cfg.sources.items():
            if _same_file(p, file):
                return src
        raise EditError(f"`{file}` is not part of this config")

    def replace_at(origin: Origin, value: Any) -> None:
        src = source_of(origin.span.file)
        s, e = src.offsets(origin.span)
        line_start = src.line_start(s)
        line = src.original[line_start:s]
        indent = len(line) - len(line.lstrip(" "))
        line_end = src.original.find("\n", e)
        tail = len(src.original[e : len(src.original) if line_end < 0 else line_end].rstrip())
        close = closing_style(src.original[s:e])
        literal = _literal(origin.span.file, value, s - line_start, indent, line_length(src.original), tail, close)
        edit = TextEdit(s, e, literal)
        if origin.span.file.endswith((".yaml", ".yml")):
            edit = yaml_replacement(src, s, e, literal)
        inplace.setdefault(os.path.abspath(origin.span.file), []).append(edit)

    def replace_dict_at(origin: Origin, old: dict[Any, Any], value: dict[Any, Any]) -> None:
        # A Python dict is edited item by item, so that what stays keeps its text.
        src = source_of(origin.span.file)
        edits = dict_edits(src, *src.offsets(origin.span), old, value) if origin.span.file.endswith(".py") else None
        if edits is None:
            replace_at(origin, value)
        else:
            inplace.setdefault(os.path.abspath(origin.span.file), []).extend(edits)

    def add_override(path: Path, value: Any) -> bool:
        """Override ``path``; whether a list on the way had to be written out whole."""
        crossed = False
        for i, step in enumerate(path):
            if isinstance(step, int):  # mmengine replaces lists whole: write the whole list
                path, value, crossed = path[:i], Whole(keypath.get(plan.tree, path[:i])), True
                _note_written_out(path)
                break
        node = override
        for step in path[:-1]:
            current = node.get(step)
            if isinstance(current, Whole):
                return crossed
            node = node.setdefault(step, {})
        node[path[-1]] = value
        return crossed

    def _note_written_out(path: Path) -> None:
        # A list the config computes (a comprehension, a call) in the edited file is replaced
        # by its values: say so, once.
        here = _exact_origin(cfg.tree, path)
        if here is None or here.kind == "literal" or not _same_file(here.span.file, target):
            return
        note = (
            f"`{format_path(path)}` is computed at {paths.position(here.span, column=False)} and mmengine replaces a list whole, "
            "so it is written out as literal values, with only the requested change"
        )
        if note not in written.notes:
            written.notes.append(note)

    renamed: set[Path] = set()
    extra_whole: list[Path] = []
    for old_path, new_path in plan.renames:
        here = _exact_origin(cfg.tree, old_path)
        home = here.span.file if (in_base and here is not None) else target
        edit = _key_rename(source_of(home), here, old_path, str(new_path[-1])) if here is not None else None
        inherited = _same_file(home, target) and _at(cfg.base, old_path) is not None
        if here is not None and edit is not None and _same_file(here.span.file, home) and not inherited:
            inplace.setdefault(os.path.abspath(home), []).append(edit)
            renamed |= {old_path, new_path}
        elif old_path[:-1] not in plan.whole and old_path[:-1] not in extra_whole:
            extra_whole.append(old_path[:-1])

    whole = sorted([*plan.whole, *extra_whole], key=len)
    for w in whole:
        new = keypath.get(plan.tree, w)
        old = keypath.get(cfg.tree, w)
        here = _exact_origin(cfg.tree, w)
        home = here.span.file if (in_base and here is not None) else target
        # Keys written in another file (a base) would merge back in: `_delete_` keeps them out;
        # those files have the dict, so `_delete_` is consumed by the merge and never leaks.
        outside = [k for k in old if (o := origin_at(cfg.tree, (*w, k))) is None or not _same_file(o.span.file, home)]
        # So would the bases' own value of the dict where this config writes it whole.
        under = _at(cfg.base, w) if _same_file(home, target) else None
        value = {"_delete_": True, **new} if outside or _brings_back(under, new) else dict(new)
        # A dict written once for other keys too (a YAML anchor and its aliases): only this one
        # is written whole, through an override.
        shared = [o for o in _users_of(cfg.tree, here, w) if tuple(_steps(o)) not in whole] if here else []
        if here is not None and _same_file(here.span.file, home) and here.kind == "literal" and not shared:
            replace_dict_at(here, old, value)
        elif in_base:
            raise EditError(
                f"`{format_path(w)}` is not written as one dict in a single file; edit it without --in-base"
            )
        else:
            add_override(w, Whole(value))
    changed = {c.path for c in plan.changes}
    for change in plan.changes:
        if change.path in renamed or any(change.path[: len(w)] == w for w in whole):
            continue
        here = _exact_origin(cfg.tree, change.path) if change.old is not MISSING else None
        home = here.span.file if (in_base and here is not None) else target
        shared = _users_of(cfg.tree, here, change.path) if here is not None else []
        untouched = [o for o in shared if tuple(_steps(o)) not in changed]
        if here is not None and untouched and not in_base:
            # One literal (a variable, a comprehension) gives this value to other keys as well:
            # replacing it would change them too, so only this key is overridden.
            note = len(written.notes)
            through_list = add_override(change.path, change.new)
            written.notes.insert(
                note,
                f"`{format_path(change.path)}` is written at {paths.position(here.span, column=False)} for "
                f"{', '.join(f'`{o}`' for o in untouched[:5])}{' and more' if len(untouched) > 5 else ''} too; "
                "only the requested key is changed" + ("" if through_list else ", through an override"),
            )
        elif here is not None and _same_file(here.span.file, home) and change.new is not DELETE:
            replace_at(here, change.new)
            if here.kind == "variable":
                written.notes.append(
                    f"`{format_path(change.path)}` came through the variable `{here.text}`"
                    + (f" (set at {paths.position(here.via.span, column=False)})" if here.via else "")
                    + "; it is replaced where it is used, the variable keeps its value"
                )
            if shared:
                written.notes.append(
                    f"`{format_path(change.path)}` is written at {paths.position(here.span, column=False)} together with "
                    f"{', '.join(f'`{o}`' for o in shared)}, which change too"
                )
        elif in_base and here is None and change.old is not MISSING:
            raise EditError(
                f"`{format_path(change.path)}` has no single place where it is written; edit it without --in-base"
            )
        else:
            add_override(change.path, change.new)

    files = {os.path.abspath(f) for f in inplace} | ({os.path.abspath(target)} if override else set())
    for f in sorted(files):
        src = source_of(f)
        text = apply_edits(src.original, inplace.get(f, []))
        if override and _same_file(f, target):
            text = _write_override(f, text, override)
        written.files[f] = FileChange(f, src.original, text)
    return written


def _key_rename(src: SourceText, here: Origin, path: Path, new: str) -> TextEdit | None:
    """The edit that renames the key written just before the value at ``here`` (``name=`` of a
    Python ``dict(...)``, ``'name':`` of a literal dict, ``name:`` in YAML, ``"name":`` in JSON)
    to ``new``; ``None`` where the text there is not that key."""
    old = path[-1]
    if not isinstance(old, str):
        return None
    start, _ = src.offsets(here.span)
    before = src.original[max(0, start - 400) : start]
    quoted = re.compile(r"""(?P<q>['"])(?P<k>""" + re.escape(old) + r""")(?P=q)\s*:\s*\Z""")
    if src.path.endswith(".py"):
        keyword = re.compile(r"(?<![\w.])(?P<k>" + re.escape(old) + r")\s*=\s*\Z")
        m = keyword.search(before) if is_name(new) else None
        m = m or quoted.search(before)
    else:
        m = quoted.search(before) or re.compile(r"(?<![\w'\"])(?P<k>" + re.escape(old) + r")\s*:\s*\Z").search(before)
    if m is None:
        return None
    offset = start - len(before)
    q = m.groupdict().get("q") or ""
    plain_yaml = not q and src.path.endswith((".yaml", ".yml"))
    if (q and q in new) or (plain_yaml and not re.fullmatch(r"[A-Za-z_][\w-]*", new)):
        return None
    return TextEdit(offset + m.start("k"), offset + m.end("k"), new)


def _write_override(path: str, text: str, override: dict[Any, Any]) -> str:
    if path.endswith(".py"):
        src = SourceText.plain(path, text)
        try:
            module = pysource.parse_quietly(text)
        except SyntaxError as e:
            raise WriteError(f"the config does not parse after the in-place edits ({e.msg})") from None
        return apply_edits(text, python_override(src, module, override))
    if path.endswith(".json"):
        return apply_edits(text, json_override(SourceText.plain(path, text), override))
    return apply_edits(text, yaml_override(text, override))

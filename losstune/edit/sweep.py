"""``losstune sweep``: one child config per combination of values, each inheriting the config
through ``_base_`` and holding only its overrides, with a manifest of what each file sets."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
from typing import Any

from msgspec import Struct

from losstune import keypath
from losstune.edit.apply import atomic_write, locked
from losstune.edit.plan import DELETE, EditError, Plan, plan_edits
from losstune.edit.pywrite import Whole, apply_edits, python_override
from losstune.edit.session import _load
from losstune.edit.values import Assignment, AssignmentError, python_literal, split_sweep_values
from losstune.keypath import Path
from losstune.lint.settings import Settings
from losstune.loader import pysource
from losstune.loader.limits import MAX_SWEEP_RUNS
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import same_value, to_plain
from losstune.render import paths
from losstune.render.json import compact, document
from losstune.render.json import value as json_value
from losstune.schema.registry import Schema


class Run(Struct):
    """One generated config and the values it sets."""

    file: str
    values: dict[str, Any]
    text: str
    plan: Plan


def parse_axes(specs: list[str]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``KEY=V1,V2,...`` for each axis of the sweep: the key, and each value as typed and as read."""
    axes = []
    for spec in specs:
        key, sep, raw = spec.partition("=")
        if not sep or not key.strip():
            raise AssignmentError(f"`{spec}` is not KEY=V1,V2,...")
        values = split_sweep_values(raw)
        if not values:
            raise AssignmentError(f"`{spec}` gives no values")
        axes.append((key.strip(), values))
    keys = [k for k, _ in axes]
    if len(set(keys)) != len(keys):
        raise AssignmentError("a key appears twice; give all its values in one KEY=V1,V2,...")
    return axes


def child_override(plan: Plan, explicit: tuple[tuple[Path, Any], ...] = ()) -> dict[Any, Any]:
    """What a child of the config must write so that it resolves to ``plan.tree``; ``explicit``
    values are written even where they equal the base's."""
    override: dict[Any, Any] = {}

    def add(path: Path, value: Any) -> None:
        for i, step in enumerate(path):
            if isinstance(step, int):
                path, value = path[:i], Whole(keypath.get(plan.tree, path[:i]))
                break
        node = override
        for step in path[:-1]:
            if isinstance(node.get(step), Whole):
                return
            node = node.setdefault(step, {})
        node[path[-1]] = value

    for w in sorted(plan.whole, key=len):
        add(w, Whole({"_delete_": True, **keypath.get(plan.tree, w)}))
    for c in plan.changes:
        if any(c.path[: len(w)] == w for w in plan.whole):
            continue
        if c.new is DELETE:  # pragma: no cover - deletions always come with their whole dict
            continue
        add(c.path, c.new)
    for path, value in explicit:
        if not any(path[: len(w)] == w for w in plan.whole):
            add(path, value)
    return override


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", text).strip("_") or "x"


def _names(keys: list[str]) -> list[str]:
    """Short readable names for keys: the last step, or more steps where they collide."""
    for depth in range(1, 10):
        names = ["-".join(k.split(".")[-depth:]) for k in keys]
        if len(set(names)) == len(names):
            return names
    return keys


def plan_sweep(
    config: str,
    specs: list[str],
    out_dir: str,
    schema: Schema,
    settings: Settings,
    max_runs: int = MAX_SWEEP_RUNS,
) -> list[Run]:
    """Every run of the sweep, checked against the schema; nothing is written. More than
    ``max_runs`` combinations are refused before any of them is planned."""
    axes = parse_axes(specs)
    count = math.prod(len(values) for _, values in axes)
    if count > max_runs:
        sizes = " x ".join(str(len(values)) for _, values in axes)
        raise EditError(
            f"the sweep has {count:,} combinations ({sizes} values), more than the {max_runs:,} it writes "
            "at most; give fewer values, or raise the limit with --max N"
        )
    loaded = _load(config)
    stem = os.path.splitext(os.path.basename(config))[0]
    names = _names([k for k, _ in axes])
    rel = os.path.relpath(os.path.abspath(config), os.path.abspath(out_dir))
    header = f"_base_ = {python_literal(rel if rel.startswith('.') else './' + rel)}\n"
    runs = []
    for combo in itertools.product(*(values for _, values in axes)):
        assignments = [Assignment(k, v, text=t) for (k, _), (t, v) in zip(axes, combo, strict=True)]
        label = ", ".join(f"{a.key}={a.value!r}" for a in assignments)
        try:
            plan = plan_edits(loaded, assignments, schema, settings)
        except EditError as e:
            raise EditError(f"{label}: {e}", e.lines, refused_by=e.refused_by) from None
        text = header + "\n"
        # Every swept value is written, even one equal to the base's: the file says what it runs.
        explicit = [(p, a.value) for a in assignments for p in keypath.resolve(plan.tree, a.key)]
        override = child_override(plan, tuple(explicit))
        if override:
            text = apply_edits(
                text, python_override(SourceText.plain("child.py", text), pysource.parse_quietly(text), override)
            )
        name = "_".join([stem, *(f"{n}-{_slug(a.value)}" for n, a in zip(names, assignments, strict=True))]) + ".py"
        values = {a.key: a.value for a in assignments}
        runs.append(Run(os.path.join(out_dir, name), values, text, plan))
    files = [r.file for r in runs]
    if len(set(files)) != len(files):
        raise EditError("two runs would get the same file name; make the values more distinct")
    return runs


class Sweep(Struct):
    """A written sweep: the config its runs inherit (its real path), the runs, and the manifests
    (JSON and CSV) that list them."""

    config: str
    runs: list[Run]
    manifests: tuple[str, str]


def write_sweep(runs: list[Run], out_dir: str, config: str) -> Sweep:
    """Write every run and the manifests; check each run resolves as planned (else remove all)."""
    os.makedirs(out_dir, exist_ok=True)
    manifest_json = os.path.join(out_dir, "manifest.json")
    manifest_csv = os.path.join(out_dir, "manifest.csv")
    existing = [p for p in [*(r.file for r in runs), manifest_json, manifest_csv] if os.path.exists(p)]
    if existing:
        raise EditError(f"`{paths.shown(existing[0])}` exists already; choose an empty folder")
    written: list[str] = []

    def write_new(path: str, text: str) -> None:
        try:
            atomic_write(path, text, new_file=True)
        except FileExistsError:
            raise EditError(
                f"`{paths.shown(path)}` was created by another program while the sweep ran; nothing was kept"
            ) from None
        written.append(path)

    try:
        with locked(out_dir):
            for r in runs:
                write_new(r.file, r.text)
                result = Resolver().resolve(r.file)
                if result.cfg is None or not same_value(to_plain(result.cfg), to_plain(r.plan.tree)):
                    raise EditError(f"`{paths.shown(r.file)}` did not resolve to its values; nothing was kept")
            keys = list(runs[0].values) if runs else []
            data = {
                "base": paths.shown(os.path.abspath(config)),
                "runs": [
                    {
                        "file": os.path.basename(r.file),
                        "values": json_value({k: to_plain(v) for k, v in r.values.items()}),
                    }
                    for r in runs
                ],
            }
            write_new(manifest_json, document("manifest", data))
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["file", *keys])
            for r in runs:
                w.writerow([os.path.basename(r.file), *(compact(to_plain(r.values[k])) for k in keys)])
            write_new(manifest_csv, buf.getvalue())
    except BaseException:
        for p in written:
            if os.path.exists(p):
                os.unlink(p)
        raise
    return Sweep(os.path.realpath(config), runs, (manifest_json, manifest_csv))

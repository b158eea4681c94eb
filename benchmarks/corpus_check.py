"""Check losstune against mmengine on a tree of real MMDetection configs, or on each project of a site.

Usage: ``python benchmarks/corpus_check.py CONFIG_DIR [--inject N] [--edits M]``, where CONFIG_DIR is a
``configs/`` folder of MMDetection (for instance the one inside the mmdet wheel:
``pip download --no-deps mmdet==3.3.0`` and unzip ``mmdet/.mim/configs``), or
``python benchmarks/corpus_check.py --site SITE [PROJECT ...] [--inject N] [--edits M]``, where SITE is a
folder of installed (or unpacked) OpenMMLab packages, each with its configs in ``<package>/.mim/configs``
(all such packages when no PROJECT is named). SITE goes on ``sys.path`` (and ``PYTHONPATH``) so that
``mmdet::`` bases resolve, for mmengine as for losstune. For each tree it prints:

* fidelity: for every config mmengine loads (``Config.fromfile(p, import_custom_modules=False)``: the
  projects' code is never imported), whether ``losstune.load(p).to_dict()`` equals
  ``mmengine.Config.fromfile(p).to_dict()`` (key order and value types included);
* false alarms: error-level lint findings on the configs mmengine loads (should be none), each listed;
* detection: for up to N configs (default 300), faults injected into each literal loss or sampler
  value of the resolved config (in whichever file of the ``_base_`` chain writes it), and whether
  lint reports an error at that file and line; losses and samplers of a registry that no schema
  describes (another project's own classes, which lint does not check) are counted apart, as
  ``unchecked``;
* edits: for up to M configs (``--edits``, default 300), one random ``losstune set`` (gamma, alpha,
  loss_weight, reduction, sampler num and pos_fraction, a loss inside cascade heads, a type swap),
  then mmengine loads the edited config: it must equal the original with exactly that change, and
  every comment line of the touched files must still be there.

With ``--site``, a table of these numbers per project ends the output. The tree (or the whole site)
is copied to a temporary folder first: faults and edits are written into the copy only.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from losstune.config import LoadedConfig
from losstune.lint.run import check_config, rule_context
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.loader.values import to_plain
from losstune.model import Severity, Span
from losstune.schema.catalogue import bare_type
from losstune.schema.registry import load_schema

# fault -> (parameter, new source text, types it applies to; None = all)
FAULTS: dict[str, tuple[str, str, frozenset[str] | None]] = {
    "unknown-type": ("type", "'{type}x'", None),
    "string-weight": ("loss_weight", "'1.0'", None),
    "list-weight": ("loss_weight", "[1.0, 2.0]", None),
    "negative-weight": ("loss_weight", "-1.0", None),
    "reduction-avg": ("reduction", "'avg'", None),
    "negative-gamma": ("gamma", "-1.0", frozenset({"FocalLoss", "VarifocalLoss", "GaussianFocalLoss"})),
    "alpha-above-1": ("alpha", "1.5", frozenset({"FocalLoss"})),
    "use-sigmoid-1": ("use_sigmoid", "1", frozenset({"FocalLoss", "QualityFocalLoss", "VarifocalLoss"})),
    "pos-fraction": ("pos_fraction", "1.5", None),
    "negative-num": ("num", "-1", None),
}

# mmengine finds the package of a `pkg::` base with pkg_resources, which setuptools no longer ships
# (from version 81): this stand-in finds no distribution, so that mmengine falls back to
# importlib.util.find_spec, which finds the package on sys.path without importing it.
PKG_RESOURCES_STANDIN = """
class DistributionNotFound(Exception):
    pass


def get_distribution(name):
    raise DistributionNotFound(name)
"""


@dataclass
class TreeResult:
    """The numbers of one tree of configs."""

    configs: int = 0
    mm_failed: int = 0
    equal: int = 0
    differ: int = 0
    alarms: list[str] = field(default_factory=list)
    tried: collections.Counter[str] = field(default_factory=collections.Counter)
    hit: collections.Counter[str] = field(default_factory=collections.Counter)
    unchecked: int = 0
    edits: int = 0
    exact: int = 0
    refused: int = 0

    @property
    def loadable(self) -> int:
        return self.equal + self.differ


def shape(value: Any) -> Any:
    """Key order and exact types, for an exact comparison."""
    if isinstance(value, dict):
        return ("dict", [(repr(k), shape(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(v) for v in value])
    return (type(value).__name__, repr(value))


def mm_load(path: str) -> dict[str, Any] | None:
    from mmengine.config import Config

    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out: dict[str, Any] = Config.fromfile(path, import_custom_modules=False).to_dict()
            return out
    except Exception:
        return None


def replace(path: str, span: Span, text: str) -> str | None:
    original = Path(path).read_text()
    lines = original.split("\n")
    line = lines[span.line - 1]
    lines[span.line - 1] = line[: span.column - 1] + text + line[span.end_column - 1 :]
    Path(path).write_text("\n".join(lines))
    return original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", help="CONFIG_DIR, or with --site the projects to check (default: all)")
    parser.add_argument("--site", help="a folder of OpenMMLab packages with configs in <package>/.mim/configs")
    parser.add_argument("--inject", type=int, default=300, help="configs to inject faults into, per tree")
    parser.add_argument("--edits", type=int, default=300, help="configs to edit with losstune set, per tree")
    args = parser.parse_args()
    schema = load_schema()
    work = Path(tempfile.mkdtemp())
    try:
        if args.site is None:
            if len(args.trees) != 1:
                parser.error("give one CONFIG_DIR, or --site SITE [PROJECT ...]")
            shutil.copytree(args.trees[0], work / "configs")
            report(check_tree(work / "configs", schema, args.inject, args.edits))
            return 0
        site = work / "site"
        shutil.copytree(args.site, site, ignore=shutil.ignore_patterns("__pycache__"))
        (work / "standin").mkdir()
        (work / "standin" / "pkg_resources.py").write_text(PKG_RESOURCES_STANDIN)
        sys.path[:0] = [str(site), str(work / "standin")]
        os.environ["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
        projects = args.trees or sorted(p.name for p in site.iterdir() if (p / ".mim" / "configs").is_dir())
        results: dict[str, TreeResult] = {}
        for project in projects:
            top = site / project / ".mim" / "configs"
            if not top.is_dir():
                parser.error(f"{args.site}/{project}/.mim/configs is not a folder")
            print(f"== {project}")
            results[project] = check_tree(top, schema, args.inject, args.edits)
            report(results[project])
        print_table(results)
        return 0
    finally:
        os.chdir(work.parent)
        shutil.rmtree(work, ignore_errors=True)


def check_tree(top: Path, schema: Any, inject: int, edits: int) -> TreeResult:
    """Fidelity, false alarms, detection and edits on the configs under ``top`` (a copy: it is written)."""
    os.chdir(top)
    out = TreeResult()
    files = sorted(
        os.path.join(r, f) for r, _, fs in os.walk(".") for f in fs if f.endswith(".py") and "_base_" not in r
    )
    out.configs = len(files)
    loadable: list[str] = []
    for f in files:
        expected = mm_load(f)
        if expected is None:
            out.mm_failed += 1
            continue
        loadable.append(f)
        result = Resolver().resolve(f)
        got = to_plain(result.cfg) if result.cfg is not None else None
        if got == expected and shape(got) == shape(expected):
            out.equal += 1
        else:
            out.differ += 1
            print(f"  differs: {f}")
        if result.cfg is not None:
            found = result.diagnostics + check_config(LoadedConfig(result), schema, Settings())
            for d in found:
                if d.severity is Severity.ERROR:
                    out.alarms.append(f"{d.span}: {d.code} {d.message[:120]}")
                    print(f"  false alarm? {out.alarms[-1]}")
    rng = random.Random(0)
    rng.shuffle(loadable)
    inject_faults(loadable[:inject], schema, out)
    check_edits(loadable, edits, schema, rng, out)
    return out


def inject_faults(configs: list[str], schema: Any, out: TreeResult) -> None:
    """Each fault of FAULTS written in turn at each literal loss or sampler value of ``configs``:
    lint must report an error at that file and line."""
    for f in configs:
        loaded = LoadedConfig(Resolver().resolve(f))
        checked = {n.path for n in rule_context(loaded, schema, Settings()).nodes() if n.entry is not None}
        nodes = [(n.path, n.type) for n in loaded.losses()] + [(s.path, s.type) for s in loaded.samplers()]
        for path, type_name in nodes:
            if path not in checked:  # another registry's class that no schema describes
                out.unchecked += 1
                continue
            node: Any = loaded.tree
            for step in path:
                node = node[step]
            for fault, (key, text, types) in FAULTS.items():
                origin = node.origins.get(key) if hasattr(node, "origins") else None
                if origin is None or origin.kind != "literal" or origin.span.line != origin.span.end_line:
                    continue
                if types is not None and bare_type(type_name) not in types:
                    continue
                target = os.path.abspath(origin.span.file)
                original = replace(target, origin.span, text.format(type=type_name))
                out.tried[fault] += 1
                try:
                    result = Resolver().resolve(f)
                    found = list(result.diagnostics)
                    if result.cfg is not None:
                        found += check_config(LoadedConfig(result), schema, Settings())
                    if any(
                        d.severity is Severity.ERROR
                        and d.span is not None
                        and os.path.abspath(d.span.file) == target
                        and d.span.line == origin.span.line
                        for d in found
                    ):
                        out.hit[fault] += 1
                    else:
                        print(f"  not detected: {fault} at {origin.span} ({type_name}) in {f}")
                finally:
                    Path(target).write_text(original or "")


def report(out: TreeResult) -> None:
    """The numbers of one tree, as lines of text."""
    print(
        f"fidelity: {out.equal}/{out.loadable} configs that mmengine loads are equal "
        f"({out.mm_failed} mmengine cannot load)"
    )
    print(f"false alarms: {len(out.alarms)} error-level findings on the {out.loadable} configs mmengine loads")
    for fault in FAULTS:
        print(f"detection {fault:16s} {out.hit[fault]}/{out.tried[fault]}")
    total_hit, total = sum(out.hit.values()), sum(out.tried.values())
    print(
        f"detection: {total_hit}/{total} injected faults reported at their file and line ({total_hit / max(total, 1):.1%}); "
        f"{out.unchecked} losses and samplers of registries no schema describes were left out"
    )
    print(
        f"edits: {out.exact}/{out.edits} load in mmengine as the original with exactly the change "
        f"and keep every comment line ({out.refused} refused)"
    )


def print_table(results: dict[str, TreeResult]) -> None:
    """One row per project."""
    head = (
        "project",
        "configs",
        "mmengine loads",
        "equal",
        "false alarms",
        "faults detected",
        "unchecked",
        "edits exact",
    )
    rows = [head]
    for name, r in results.items():
        hit, tried = sum(r.hit.values()), sum(r.tried.values())
        rows.append(
            (
                name,
                str(r.configs),
                str(r.loadable),
                f"{r.equal}/{r.loadable}",
                str(len(r.alarms)),
                f"{hit}/{tried}",
                str(r.unchecked),
                f"{r.exact}/{r.edits}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print()
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _candidates(cfg: LoadedConfig, rng: random.Random) -> list[tuple[tuple[Any, ...], Any]]:
    out: list[tuple[tuple[Any, ...], Any]] = []
    for loss in cfg.losses():
        t = bare_type(loss.type)
        if t == "FocalLoss":
            out.append(((*loss.path, "gamma"), round(rng.uniform(0.5, 3.0), 2)))
            out.append(((*loss.path, "alpha"), round(rng.uniform(0.1, 0.9), 2)))
        out.append(((*loss.path, "loss_weight"), round(rng.uniform(0.1, 3.0), 2)))
        if t in ("L1Loss", "SmoothL1Loss", "CrossEntropyLoss"):
            out.append(((*loss.path, "reduction"), rng.choice(["mean", "none"])))
        if t == "L1Loss" and not any(isinstance(s, int) for s in loss.path):
            out.append(((*loss.path, "type"), "SmoothL1Loss"))
    for sampler in cfg.samplers():
        if bare_type(sampler.type) == "RandomSampler" and sampler.path is not None:
            out.append(((*sampler.path, "num"), rng.choice([128, 256, 512, 1024])))
            out.append(((*sampler.path, "pos_fraction"), rng.choice([0.25, 0.5, 0.75])))
    return out


def check_edits(loadable: list[str], n: int, schema: Any, rng: random.Random, out: TreeResult) -> None:
    """Random `losstune set` edits, checked with mmengine."""
    import copy

    from losstune.edit.plan import EditError
    from losstune.edit.pywrite import WriteError
    from losstune.edit.session import set_values
    from losstune.edit.values import Assignment
    from losstune.keypath import format_path
    from losstune.model import ConfigError

    counts: collections.Counter[str] = collections.Counter()
    for f in loadable:
        if counts["edits"] >= n:
            break
        loaded = LoadedConfig(Resolver().resolve(f))
        candidates = _candidates(loaded, rng)
        if not candidates:
            continue
        path, value = rng.choice(candidates)
        before = mm_load(f)
        snapshot = {p: Path(p).read_text() for p in loaded.files}
        try:
            outcome = set_values(f, [Assignment(format_path(path), value)], schema, Settings())
        except (EditError, WriteError, ConfigError) as e:
            counts["edits"] += 1
            counts["refused"] += 1
            print(f"  refused: {format_path(path)}={value!r} in {f}: {e}")
            continue
        if not outcome.changes:  # already that value
            continue
        counts["edits"] += 1
        expected = copy.deepcopy(before)
        node: Any = expected
        for step in path[:-1]:
            node = node[step]
        if path[-1] == "type":  # the new type keeps the parameters it takes
            kept = {k: v for k, v in node.items() if k in ("loss_weight", "reduction")}
            node.clear()
            node.update(type=value, **kept)
        else:
            node[path[-1]] = value
        comments = all(
            line in Path(p).read_text().splitlines()
            for p, text in snapshot.items()
            for line in text.splitlines()
            if line.strip().startswith("#")
        )
        if mm_load(f) == expected and comments:
            counts["exact"] += 1
        else:
            print(f"  not exact: {format_path(path)}={value!r} in {f} (comments kept: {comments})")
        for p, text in snapshot.items():
            Path(p).write_text(text)
    out.edits, out.exact, out.refused = counts["edits"], counts["exact"], counts["refused"]


if __name__ == "__main__":
    sys.exit(main())

"""Check losstune against mmengine on a tree of real MMDetection configs.

Usage: ``python benchmarks/corpus_check.py CONFIG_DIR [--inject N]``, where CONFIG_DIR is a
``configs/`` folder of MMDetection (for instance the one inside the mmdet wheel:
``pip download --no-deps mmdet==3.3.0`` and unzip ``mmdet/.mim/configs``). It prints:

* fidelity: for every config mmengine loads, whether ``losstune.load(p).to_dict()`` equals
  ``mmengine.Config.fromfile(p).to_dict()`` (key order and value types included);
* false alarms: error-level lint findings on the configs mmengine loads (should be none);
* detection: for up to N configs (default 300), faults injected into each literal loss or sampler
  value of the resolved config (in whichever file of the ``_base_`` chain writes it), and whether
  lint reports an error at that file and line;
* edits: for up to M configs (``--edits``, default 300), one random ``losstune set`` (gamma, alpha,
  loss_weight, reduction, sampler num and pos_fraction, a loss inside cascade heads, a type swap),
  then mmengine loads the edited config: it must equal the original with exactly that change, and
  every comment line of the touched files must still be there.

The tree is copied to a temporary folder first.
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from losstune.config import LoadedConfig
from losstune.lint.run import check_config
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
            out: dict[str, Any] = Config.fromfile(path).to_dict()
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
    parser.add_argument("config_dir")
    parser.add_argument("--inject", type=int, default=300, help="configs to inject faults into")
    parser.add_argument("--edits", type=int, default=300, help="configs to edit with losstune set")
    args = parser.parse_args()
    schema = load_schema()
    work = Path(tempfile.mkdtemp()) / "configs"
    shutil.copytree(args.config_dir, work)
    os.chdir(work)
    files = sorted(
        os.path.join(r, f) for r, _, fs in os.walk(".") for f in fs if f.endswith(".py") and "_base_" not in r
    )
    equal = differ = mm_failed = alarms = 0
    loadable: list[str] = []
    for f in files:
        expected = mm_load(f)
        if expected is None:
            mm_failed += 1
            continue
        loadable.append(f)
        result = Resolver().resolve(f)
        got = to_plain(result.cfg) if result.cfg is not None else None
        if got == expected and shape(got) == shape(expected):
            equal += 1
        else:
            differ += 1
            print(f"  differs: {f}")
        if result.cfg is not None:
            found = result.diagnostics + check_config(LoadedConfig(result), schema, Settings())
            errors = [d for d in found if d.severity is Severity.ERROR]
            alarms += len(errors)
            for d in errors:
                print(f"  false alarm? {d.span}: {d.code} {d.message[:120]}")
    print(
        f"fidelity: {equal}/{equal + differ} configs that mmengine loads are equal ({mm_failed} mmengine cannot load)"
    )
    print(f"false alarms: {alarms} error-level findings on the {len(loadable)} configs mmengine loads")

    rng = random.Random(0)
    rng.shuffle(loadable)
    tried: collections.Counter[str] = collections.Counter()
    hit: collections.Counter[str] = collections.Counter()
    for f in loadable[: args.inject]:
        loaded = LoadedConfig(Resolver().resolve(f))
        nodes = [(n.path, n.type) for n in loaded.losses()] + [(s.path, s.type) for s in loaded.samplers()]
        for path, type_name in nodes:
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
                tried[fault] += 1
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
                        hit[fault] += 1
                    else:
                        print(f"  not detected: {fault} at {origin.span} ({type_name}) in {f}")
                finally:
                    Path(target).write_text(original or "")
    for fault in FAULTS:
        print(f"detection {fault:16s} {hit[fault]}/{tried[fault]}")
    total_hit, total = sum(hit.values()), sum(tried.values())
    print(
        f"detection: {total_hit}/{total} injected faults reported at their file and line ({total_hit / max(total, 1):.1%})"
    )
    check_edits(loadable, args.edits, schema, rng)
    shutil.rmtree(work.parent, ignore_errors=True)
    return 0


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


def check_edits(loadable: list[str], n: int, schema: Any, rng: random.Random) -> None:
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
    print(
        f"edits: {counts['exact']}/{counts['edits']} load in mmengine as the original with exactly the change "
        f"and keep every comment line ({counts['refused']} refused)"
    )


if __name__ == "__main__":
    sys.exit(main())

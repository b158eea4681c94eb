"""Faults injected into the examples are reported at error level, at the file and line of the
injected value, whichever file of the `_base_` chain holds it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from losstune.config import LoadedConfig
from losstune.lint.run import check_config
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.model import Severity, Span
from losstune.schema.catalogue import bare_type
from losstune.schema.registry import load_schema
from tests.conftest import EXAMPLES

SCHEMA = load_schema()

# fault -> (parameter to replace, new source text, loss or sampler types it applies to; None = all)
FAULTS: dict[str, tuple[str, str, frozenset[str] | None]] = {
    "unknown-type": ("type", "'{type}x'", None),
    "string-weight": ("loss_weight", "'1.0'", None),
    "list-weight": ("loss_weight", "[1.0, 2.0]", None),
    "negative-weight": ("loss_weight", "-1.0", None),
    "negative-gamma": ("gamma", "-1.0", frozenset({"FocalLoss"})),
    "alpha-above-1": ("alpha", "1.5", frozenset({"FocalLoss"})),
    "use-sigmoid-1": ("use_sigmoid", "1", frozenset({"FocalLoss", "QualityFocalLoss"})),
    "pos-fraction": ("pos_fraction", "1.5", None),
    "negative-num": ("num", "-1", None),
    "zero-beta": ("beta", "0.0", frozenset({"SmoothL1Loss"})),
}


def _replace(path: Path, span: Span, text: str) -> None:
    lines = path.read_text().split("\n")
    line = lines[span.line - 1]
    lines[span.line - 1] = line[: span.column - 1] + text + line[span.end_column - 1 :]
    path.write_text("\n".join(lines))


def _targets(root: Path) -> list[tuple[str, str, str, Span]]:
    """(config, fault, new text, span of the value to replace) for every applicable fault."""
    out = []
    for config in sorted(root.glob("*.py")):
        loaded = LoadedConfig(Resolver().resolve(config))
        nodes = [(n.path, n.type) for n in loaded.losses()] + [(s.path, s.type) for s in loaded.samplers()]
        for path, type_name in nodes:
            node = loaded.tree
            for step in path:
                node = node[step]
            for fault, (key, text, types) in FAULTS.items():
                origin = node.origins.get(key)
                if origin is None or origin.kind != "literal" or origin.span.line != origin.span.end_line:
                    continue
                if types is not None and bare_type(type_name) not in types:
                    continue
                out.append((config.name, fault, text.format(type=type_name), origin.span))
    return out


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("examples") / "examples"
    shutil.copytree(EXAMPLES, root)
    return root


def test_injected_faults_are_reported_where_injected(pristine: Path, tmp_path: Path) -> None:
    targets = _targets(pristine)
    assert len(targets) > 100 and {t[1] for t in targets} == set(FAULTS)
    missed = []
    for config, fault, text, span in targets:
        root = tmp_path / f"{config}-{fault}-{span.line}-{span.column}"
        shutil.copytree(pristine, root)
        target = (root / Path(span.file).resolve().relative_to(pristine.resolve())).resolve()
        _replace(target, span, text)
        result = Resolver().resolve(root / config)
        found = list(result.diagnostics)
        if result.cfg is not None:
            found += check_config(LoadedConfig(result), SCHEMA, Settings())
        if not any(
            d.severity is Severity.ERROR
            and d.span
            and Path(d.span.file).resolve() == target
            and d.span.line == span.line
            for d in found
        ):
            missed.append((config, fault, span.line, [(d.code, d.span.line if d.span else 0) for d in found]))
    assert missed == []


def test_examples_copy_is_clean(pristine: Path) -> None:
    for config in sorted(pristine.glob("*.py")):
        loaded = LoadedConfig(Resolver().resolve(config))
        assert check_config(loaded, SCHEMA, Settings()) == [], config

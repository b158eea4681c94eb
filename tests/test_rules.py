"""Every lint rule against its own valid and invalid examples, at the exact line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from losstune.config import LoadedConfig
from losstune.lint.run import check_config
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.rules import ALL_RULES, Example, Rule
from losstune.schema.registry import load_schema

SCHEMA = load_schema()


def _findings(rule: Rule, example: Example, tmp_path: Path) -> list[tuple[int, int]]:
    path = tmp_path / "cfg.py"
    path.write_text(example.source, encoding="utf-8")
    result = Resolver().resolve(path)
    assert result.cfg is not None, result.diagnostics
    found = check_config(LoadedConfig(result), SCHEMA, Settings(select=(rule.code,), mmdet_version=example.version))
    for d in found:
        assert d.code == rule.code and d.name == rule.name
        assert d.span is not None and d.fix
    return [(d.span.line, d.span.column) for d in found if d.span is not None]


CASES = [(r, e, True) for r in ALL_RULES for e in r.valid] + [(r, e, False) for r in ALL_RULES for e in r.invalid]


@pytest.mark.parametrize(
    ("rule", "example", "valid"),
    CASES,
    ids=[f"{r.code}-{'valid' if v else 'invalid'}-{i}" for i, (r, _, v) in enumerate(CASES)],
)
def test_rule_example(rule: Rule, example: Example, valid: bool, tmp_path: Path) -> None:
    found = _findings(rule, example, tmp_path)
    if valid:
        assert found == []
    else:
        assert found == list(example.at)


def test_every_rule_has_examples_docs_and_a_unique_code() -> None:
    codes = [r.code for r in ALL_RULES]
    assert len(set(codes)) == len(codes) and len({r.name for r in ALL_RULES}) == len(codes)
    for rule in ALL_RULES:
        assert rule.valid and rule.invalid, rule.code
        assert len(rule.doc()) > 100, rule.code
        assert rule.name == rule.name.lower() and " " not in rule.name

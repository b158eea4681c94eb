"""Every lint rule against its own valid and invalid examples, at the exact line and column."""

from __future__ import annotations

import json

import pytest

from losstune.lint.examples import run_example
from losstune.render.rule import inline
from losstune.rules import ALL_RULES, Example, Rule
from losstune.schema.registry import load_schema

SCHEMA = load_schema()


def _findings(rule: Rule, example: Example) -> list[tuple[int, int]]:
    found = run_example(rule, example, SCHEMA)
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
def test_rule_example(rule: Rule, example: Example, valid: bool) -> None:
    found = _findings(rule, example)
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


def test_a_rules_module_class_and_name_say_the_same_thing() -> None:
    for rule in ALL_RULES:
        words = rule.name.split("-")
        assert type(rule).__module__ == "losstune.rules." + "_".join(words), rule.name
        assert type(rule).__name__.lower() == "".join(words), rule.name


def test_a_rules_summary_is_the_first_paragraph_of_its_docs_on_one_line() -> None:
    for rule in ALL_RULES:
        first = rule.doc().split("\n\n")[0]
        assert rule.summary == " ".join(first.split()) and rule.summary.endswith("."), rule.code


def test_the_rule_listing_and_sarif_give_the_same_summary() -> None:
    from typer.testing import CliRunner

    from losstune.cli.app import app
    from losstune.render.lint import render_sarif as render_lint

    listing = CliRunner().invoke(app, ["rule"]).stdout.splitlines()
    sarif = json.loads(render_lint([]))["runs"][0]["tool"]["driver"]["rules"]
    for rule in ALL_RULES:
        (line,) = [line for line in listing if line.startswith(rule.code + " ")]
        assert line.endswith(" " + inline(rule.summary) + ("" if rule.default_enabled else " (off unless selected)"))
        (entry,) = [r for r in sarif if r["id"] == rule.code]
        assert entry["shortDescription"]["text"] == inline(rule.summary)


def test_class_weight_length_documents_every_head_whose_classifier_it_knows() -> None:
    import re

    from losstune.rules.class_weight_length import ClassWeightLength
    from losstune.schema.heads import CLASSIFIER_WIDTHS

    named = set(re.findall(r"\b[A-Z][A-Za-z0-9]*Head\b", ClassWeightLength.doc()))
    assert named == {head for head, _ in CLASSIFIER_WIDTHS}


def _lt111(head: str, loss: str) -> list[tuple[int, int]]:
    rule = next(r for r in ALL_RULES if r.code == "LT111")
    source = (
        f"model = dict(bbox_head=dict(type='{head}', loss_cls=dict(type='{loss}', use_sigmoid=True)),\n"
        "             train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5)))\n"
    )
    return [(d.span.line, d.span.column) for d in run_example(rule, Example(source), SCHEMA) if d.span is not None]


def test_sampler_with_balanced_loss_follows_whether_the_head_calls_its_sampler() -> None:
    # FreeAnchorRetinaHead builds AnchorHead's sampler and never calls it (its bags come from the
    # IoUs); RTMDetHead feeds loss_cls from its train_cfg's sampler; YOLOXHead's is a PseudoSampler always
    assert _lt111("FreeAnchorRetinaHead", "FocalLoss") == []
    assert _lt111("RTMDetHead", "QualityFocalLoss") == [(2, 47)]
    assert _lt111("RetinaHead", "FocalLoss") == [(2, 47)]
    assert _lt111("YOLOXHead", "FocalLoss") == []

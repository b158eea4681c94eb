"""A finding caused by a child config is reported at the child's line, with the base's line as a
related location (SARIF ``relatedLocations``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from losstune.cli.app import app
from losstune.model import Diagnostic
from tests.conftest import lint_with


def lint(path: Path, *codes: str) -> list[Diagnostic]:
    return lint_with(path, *codes)[1]


def where(d: Diagnostic) -> tuple[str, int, int]:
    assert d.span is not None
    return (Path(d.span.file).name, d.span.line, d.span.column)


SEESAW_BASE = """
model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=1203,
    loss_cls=dict(type='SeesawLoss', num_classes=1203))))
"""


def test_a_child_that_changes_num_classes_under_a_seesaw_loss_gets_the_finding(write: Callable[..., Path]) -> None:
    write("base.py", SEESAW_BASE)
    child = write("child.py", "_base_ = './base.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=80)))\n")
    [d] = lint(child, "LT115")
    assert where(d) == ("child.py", 2, 55)
    assert d.key == "model.roi_head.bbox_head.num_classes"
    assert "`num_classes=80`" in d.message and "base.py:2" in d.message
    assert [(Path(r.span.file).name, r.span.line) for r in d.related] == [("base.py", 2)]


def test_the_base_alone_and_a_child_that_changes_the_loss_get_it_at_the_loss(write: Callable[..., Path]) -> None:
    base = write("base.py", SEESAW_BASE.replace("SeesawLoss', num_classes=1203", "SeesawLoss', num_classes=80"))
    [d] = lint(base, "LT115")
    assert where(d) == ("base.py", 2, 50) and d.related == ()
    write("ok.py", SEESAW_BASE)
    child = write(
        "child.py", "_base_ = './ok.py'\nmodel = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(num_classes=8))))\n"
    )
    [d] = lint(child, "LT115")
    assert where(d) == ("child.py", 2, 69)
    assert [(Path(r.span.file).name, r.span.line) for r in d.related] == [("ok.py", 1)]


def test_a_child_that_changes_num_classes_under_a_class_weight_gets_the_finding(write: Callable[..., Path]) -> None:
    write(
        "base.py",
        """
        model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=8,
            loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0] * 9))))
        """,
    )
    child = write("child.py", "_base_ = './base.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=5)))\n")
    [d] = lint(child, "LT109")
    assert where(d) == ("child.py", 2, 55)
    assert "`num_classes=5`" in d.message and "6 outputs" in d.message and "9 weights" in d.message
    assert [(Path(r.span.file).name, r.span.line) for r in d.related] == [("base.py", 2)]


def test_sarif_and_json_carry_the_related_location(write: Callable[..., Path], tmp_path: Path) -> None:
    write("base.py", SEESAW_BASE)
    child = write("child.py", "_base_ = './base.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=80)))\n")
    runner = CliRunner()
    sarif = json.loads(runner.invoke(app, ["lint", str(child), "--format", "sarif", "--select", "LT115"]).stdout)
    [result] = sarif["runs"][0]["results"]
    [related] = result["relatedLocations"]
    assert related["physicalLocation"]["artifactLocation"]["uri"].endswith("base.py")
    assert related["physicalLocation"]["region"]["startLine"] == 2
    assert "1203" in related["message"]["text"]
    data = json.loads(runner.invoke(app, ["lint", str(child), "--format", "json", "--select", "LT115"]).stdout)
    [d] = data["diagnostics"]
    assert d["line"] == 2 and [(Path(r["file"]).name, r["line"]) for r in d["related"]] == [("base.py", 2)]
    text = runner.invoke(app, ["lint", str(child), "--select", "LT115"], env={"NO_COLOR": "1"}).stdout
    assert "see: " in text and "base.py:2: SeesawLoss's `num_classes=1203`" in text

"""`losstune lint` as CI and terminals use it: the concise and GitLab formats, --output-format and
its aliases, --quiet, --statistics and --exit-zero, from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.test_lint import BASE


@pytest.fixture
def tree(write: Callable[..., Path], tmp_path: Path) -> Path:
    write("configs/_base_/retina.py", BASE)
    write("configs/a.py", "_base_ = './_base_/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(alpha=1.5)))\n")
    write("configs/b.py", "_base_ = './_base_/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma='1.5')))\n")
    write("clean.py", "model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss')))\n")
    write("warns.py", "model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=0.0)))\n")
    return tmp_path


CONCISE = (
    "configs/_base_/retina.py:6:59: LT102 [unknown-parameter] `FocalLoss` has no parameter `gama` (building the "
    "model fails with an unexpected keyword argument); did you mean `gamma`?\n"
    "configs/_base_/retina.py:7:49: LT105 [invalid-choice] `L1Loss.reduction` = 'avg' is not one of "
    "'none', 'mean', 'sum'\n"
    "configs/a.py:2:49: LT104 [out-of-range] `FocalLoss.alpha` = 1.5 is out of range: it must be >= 0 and <= 1\n"
    "configs/b.py:2:49: LT103 [wrong-type] `FocalLoss.gamma` must be float, not str ('1.5')\n"
)


def test_concise_is_one_finding_a_line_then_the_summary(tree: Path) -> None:
    code, out = invoke("lint", "configs", "--output-format", "concise", cwd=tree)
    assert code == 1
    assert out == CONCISE + "4 errors, 0 warnings in 3 files (2 configs checked).\n"


@pytest.mark.parametrize("option", ["--output-format", "--format", "-f"])
def test_output_format_and_its_aliases(tree: Path, option: str) -> None:
    code, out = invoke("lint", "configs", option, "concise", "--quiet", cwd=tree)
    assert (code, out) == (1, CONCISE)


def test_quiet_prints_only_the_findings_and_nothing_when_there_are_none(tree: Path) -> None:
    code, out = invoke("lint", "configs/b.py", "--quiet", "--ignore", "LT102,LT105", cwd=tree)
    assert code == 1
    assert out == (
        "configs/b.py\n"
        "  2:49  error  LT103 wrong-type  `FocalLoss.gamma` must be float, not str ('1.5')\n"
        "       2 | model = dict(bbox_head=dict(loss_cls=dict(gamma='1.5')))\n"
        "                                                           ^^^^^\n"
        "    fix: remove the quotes: gamma=1.5\n"
    )
    assert invoke("lint", "clean.py", "--quiet", cwd=tree) == (0, "")
    assert invoke("lint", "clean.py", "--quiet", "-f", "concise", cwd=tree) == (0, "")


def test_statistics_count_each_code_most_frequent_first(tree: Path, write: Callable[..., Path]) -> None:
    write("configs/c.py", "_base_ = './_base_/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma='2')))\n")
    code, out = invoke("lint", "configs", "--statistics", cwd=tree)
    assert code == 1
    assert out == (
        "2  LT103  wrong-type\n"
        "1  LT102  unknown-parameter\n"
        "1  LT104  out-of-range\n"
        "1  LT105  invalid-choice\n"
        "\n"
        "5 errors, 0 warnings in 4 files (3 configs checked).\n"
    )
    assert invoke("lint", "configs", "--statistics", "--quiet", cwd=tree)[1] == out.split("\n\n")[0] + "\n"
    code, out = invoke("lint", "configs", "--statistics", "-f", "json", cwd=tree)
    assert code == 1
    assert json.loads(out) == {
        "version": 1,
        "kind": "lint-statistics",
        "files": 3,
        "statistics": [
            {"code": "LT103", "name": "wrong-type", "severity": "error", "count": 2},
            {"code": "LT102", "name": "unknown-parameter", "severity": "error", "count": 1},
            {"code": "LT104", "name": "out-of-range", "severity": "error", "count": 1},
            {"code": "LT105", "name": "invalid-choice", "severity": "error", "count": 1},
        ],
    }


def test_statistics_with_a_format_that_has_no_room_for_them_is_a_usage_error(tree: Path) -> None:
    code, out = invoke("lint", "configs", "--statistics", "-f", "sarif", cwd=tree)
    assert code == 2
    assert "--statistics" in out and "text, concise or json" in out


def test_exit_zero_exits_0_with_findings_and_2_when_lint_cannot_run(tree: Path) -> None:
    code, out = invoke("lint", "configs", "--exit-zero", "-f", "concise", cwd=tree)
    assert (code, out) == (0, CONCISE + "4 errors, 0 warnings in 3 files (2 configs checked).\n")
    assert invoke("lint", "warns.py", "--strict", cwd=tree)[0] == 1
    assert invoke("lint", "warns.py", "--strict", "--exit-zero", cwd=tree)[0] == 0
    code, out = invoke("lint", "missing.py", "--exit-zero", cwd=tree)
    assert code == 2 and "`missing.py` does not exist" in out


def _gitlab(tree: Path, *args: str) -> list[dict[str, object]]:
    code, out = invoke("lint", *args, "--output-format", "gitlab", cwd=tree)
    assert code == 1
    report = json.loads(out)
    assert isinstance(report, list)
    return report


def test_gitlab_code_quality_report(tree: Path) -> None:
    report = _gitlab(tree, "configs")
    assert [(r["check_name"], r["severity"], r["location"]) for r in report] == [
        ("LT102", "major", {"path": "configs/_base_/retina.py", "lines": {"begin": 6, "end": 6}}),
        ("LT105", "major", {"path": "configs/_base_/retina.py", "lines": {"begin": 7, "end": 7}}),
        ("LT104", "major", {"path": "configs/a.py", "lines": {"begin": 2, "end": 2}}),
        ("LT103", "major", {"path": "configs/b.py", "lines": {"begin": 2, "end": 2}}),
    ]
    assert report[3]["description"] == (
        "LT103 wrong-type: `FocalLoss.gamma` must be float, not str ('1.5') (fix: remove the quotes: gamma=1.5)"
    )
    fingerprints = [r["fingerprint"] for r in report]
    assert len(set(fingerprints)) == 4 and all(isinstance(f, str) and len(f) == 64 for f in fingerprints)
    assert invoke("lint", "clean.py", "-f", "gitlab", cwd=tree) == (0, "[]\n")


def test_gitlab_fingerprints_stay_when_lines_move_and_differ_between_equal_findings(
    tree: Path, write: Callable[..., Path]
) -> None:
    before = {r["check_name"]: r["fingerprint"] for r in _gitlab(tree, "configs/b.py")}
    write(
        "configs/b.py",
        "_base_ = './_base_/retina.py'\n\n# a comment moves the finding down\n"
        "model = dict(bbox_head=dict(loss_cls=dict(gamma='1.5')))\n",
    )
    after = _gitlab(tree, "configs/b.py")
    assert {r["check_name"]: r["fingerprint"] for r in after} == before
    assert [r["location"]["lines"]["begin"] for r in after if r["check_name"] == "LT103"] == [4]  # type: ignore[index]
    write(
        "twice.py",
        "model = dict(a=dict(loss=dict(type='L1Loss', loss_weight=-1.0)), b=dict(loss=dict(type='L1Loss', loss_weight=-1.0)))\n",
    )
    twice = _gitlab(tree, "twice.py")
    assert len(twice) == 2 and twice[0]["fingerprint"] != twice[1]["fingerprint"]


@pytest.fixture
def project(write: Callable[..., Path], tmp_path: Path) -> Path:
    """A project whose base is inherited directly, through another base, through a config, and by
    a name split over two string literals; and a config that inherits nothing of it."""
    write("proj/pyproject.toml", "[project]\nname = 'p'\n")
    write(
        "proj/configs/_base_/models/retina.py", "model = dict(bbox_head=dict(loss_cls=dict(type='CrossEntropyLoss')))\n"
    )
    write("proj/configs/_base_/models/other.py", "_base_ = './retina.py'\n")
    write(
        "proj/configs/a.py",
        "_base_ = './_base_/models/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(alpha=0.5)))\n",
    )
    write(
        "proj/configs/sub/b.yaml", "_base_: ../_base_/models/other.py\nmodel: {bbox_head: {loss_cls: {gamma: 2.0}}}\n"
    )
    write("proj/configs/c.py", "_base_ = './a.py'\n")
    write("proj/configs/split.py", "_base_ = ['./_base_/models/ret'\n          'ina.py']\n")
    write("proj/configs/alone.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', alpha=2.0)))\n")
    return tmp_path / "proj"


def test_the_configs_that_inherit_a_given_file_are_checked_with_it(project: Path) -> None:
    code, out = invoke("lint", "configs/_base_/models/retina.py", "-f", "concise", cwd=project)
    assert code == 1
    assert out == (
        "configs/a.py:2:43: LT102 [unknown-parameter] `CrossEntropyLoss` has no parameter `alpha` (building the "
        "model fails with an unexpected keyword argument)\n"
        "configs/sub/b.yaml:2:32: LT102 [unknown-parameter] `CrossEntropyLoss` has no parameter `gamma` (building "
        "the model fails with an unexpected keyword argument)\n"
        "2 errors, 0 warnings in 2 files (4 configs checked, 4 of them as they inherit a file given).\n"
    )
    code, out = invoke("lint", "configs/_base_/models/retina.py", "--no-dependents", cwd=project)
    assert (code, out) == (0, "All checks passed (1 config checked).\n")


def test_dependents_in_json_and_none_searched_for_a_folder_that_holds_the_project(project: Path) -> None:
    code, out = invoke("lint", "configs/_base_/models/other.py", "configs/alone.py", "-f", "json", cwd=project)
    data = json.loads(out)
    assert (code, data["files"], data["dependents"]) == (1, 2, ["configs/sub/b.yaml"])
    assert [(d["code"], d["file"]) for d in data["diagnostics"]] == [
        ("LT104", "configs/alone.py"),
        ("LT102", "configs/sub/b.yaml"),
    ]
    code, out = invoke("lint", ".", "configs/_base_/models/retina.py", "-f", "json", cwd=project)
    assert json.loads(out)["dependents"] == []


def test_a_file_that_names_a_given_one_but_cannot_be_resolved_is_checked_too(
    project: Path, write: Callable[..., Path]
) -> None:
    write("proj/configs/broken.py", "_base_ = './_base_/models/retina.py'\nmodel = dict(\n")
    code, out = invoke("lint", "configs/_base_/models/retina.py", "-f", "json", cwd=project)
    data = json.loads(out)
    assert code == 1
    assert "configs/broken.py" in data["dependents"] and len(data["dependents"]) == 5
    assert ("LT001", "configs/broken.py") in [(d["code"], d["file"]) for d in data["diagnostics"]]


def test_the_pre_commit_hook_checks_the_dependents() -> None:
    from tests.conftest import REPO

    hooks = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "entry: losstune lint --dependents\n" in hooks


AT_80 = """\
configs/_base_/retina.py
  6:59  error  LT102 unknown-parameter  `FocalLoss` has no parameter `gama`
    (building the model fails with an unexpected keyword argument); did you mean
    `gamma`?
       6 | …cls=dict(type='FocalLoss', use_sigmoid=True, gama=2.0, alpha=0.25),
                                                         ^^^^
    fix: rename it to `gamma`
  7:49  error  LT105 invalid-choice  `L1Loss.reduction` = 'avg' is not one of
    'none', 'mean', 'sum'
       7 |         loss_bbox=dict(type='L1Loss', reduction='avg')),
                                                           ^^^^^
    fix: reduction='mean'

configs/a.py
  2:49  error  LT104 out-of-range  `FocalLoss.alpha` = 1.5 is out of range: it
    must be >= 0 and <= 1
       2 | model = dict(bbox_head=dict(loss_cls=dict(alpha=1.5)))
                                                           ^^^
    fix: use a value >= 0 and <= 1 (default 0.25)

configs/b.py
  2:49  error  LT103 wrong-type  `FocalLoss.gamma` must be float, not str
    ('1.5')
       2 | model = dict(bbox_head=dict(loss_cls=dict(gamma='1.5')))
                                                           ^^^^^
    fix: remove the quotes: gamma=1.5

configs/iou.py
  3:75  error  LT112 iou-loss-needs-decoded-boxes
    `GIoULoss` compares boxes, but `RetinaHead` regresses encoded deltas unless
    reg_decoded_bbox=True
       3 | … num_classes=80, loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))
                                                 ^^^^^^^^^^
    fix: set reg_decoded_bbox=True in the head

5 errors, 0 warnings in 4 files (3 configs checked).
"""

AT_120 = """\
configs/_base_/retina.py
  6:59  error  LT102 unknown-parameter  `FocalLoss` has no parameter `gama` (building the model fails with an unexpected
    keyword argument); did you mean `gamma`?
       6 |         loss_cls=dict(type='FocalLoss', use_sigmoid=True, gama=2.0, alpha=0.25),
                                                                     ^^^^
    fix: rename it to `gamma`
  7:49  error  LT105 invalid-choice  `L1Loss.reduction` = 'avg' is not one of 'none', 'mean', 'sum'
       7 |         loss_bbox=dict(type='L1Loss', reduction='avg')),
                                                           ^^^^^
    fix: reduction='mean'

configs/a.py
  2:49  error  LT104 out-of-range  `FocalLoss.alpha` = 1.5 is out of range: it must be >= 0 and <= 1
       2 | model = dict(bbox_head=dict(loss_cls=dict(alpha=1.5)))
                                                           ^^^
    fix: use a value >= 0 and <= 1 (default 0.25)

configs/b.py
  2:49  error  LT103 wrong-type  `FocalLoss.gamma` must be float, not str ('1.5')
       2 | model = dict(bbox_head=dict(loss_cls=dict(gamma='1.5')))
                                                           ^^^^^
    fix: remove the quotes: gamma=1.5

configs/iou.py
  3:75  error  LT112 iou-loss-needs-decoded-boxes  `GIoULoss` compares boxes, but `RetinaHead` regresses encoded deltas
    unless reg_decoded_bbox=True
       3 | …bbox_head=dict(type='RetinaHead', num_classes=80, loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))
                                                                                  ^^^^^^^^^^
    fix: set reg_decoded_bbox=True in the head

5 errors, 0 warnings in 4 files (3 configs checked).
"""


@pytest.mark.parametrize(("columns", "expected"), [(80, AT_80), (120, AT_120)])
def test_text_wraps_at_the_width_with_the_carets_under_their_text(
    tree: Path, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, columns: int, expected: str
) -> None:
    write(
        "configs/iou.py",
        "model = dict(\n    type='RetinaNet',\n"
        "    bbox_head=dict(type='RetinaHead', num_classes=80, loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))\n",
    )
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out = invoke("lint", "configs", cwd=tree)
    assert (code, out) == (1, expected)
    assert max(len(line) for line in out.splitlines()) <= columns

"""Adopting lint on a tree: `--add-noqa`, baselines, and the fixes JSON, SARIF and rdjson carry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losstune.cli.app import app
from tests.conftest import invoke

runner = CliRunner()

TYPO = "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0)))\n"


def _codes(cwd: Path, *args: str) -> tuple[int, list[tuple[str, str, int]]]:
    code, out = invoke("lint", *args, "--format", "json", cwd=cwd)
    return code, [(d["code"], d["file"], d["line"]) for d in json.loads(out)["diagnostics"]]


def test_add_noqa_comments_each_finding_and_merges_with_a_comment_there(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    py = write(
        "a.py",
        "a = dict(type='FocalLoss', gamma=-1.0)\n"
        "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0, alpha=2)))  # noqa: E501\n"
        "model['x'] = a\n",
    )
    yml = write("b.yaml", "model:\n  bbox_head:\n    loss_cls:\n      type: FocalLoss\n      gama: 2.0\n")
    write("c.json", '{"model": {"bbox_head": {"loss_cls": {"type": "FocalLoss", "gama": 2.0}}}}\n')
    code, out = invoke("lint", ".", "--add-noqa", cwd=tmp_path)
    assert (code, out) == (
        0,
        "Added 4 noqa comments to 2 files.\n1 finding in JSON files left as they are: JSON has no comments.\n",
    )
    assert py.read_text() == (
        "a = dict(type='FocalLoss', gamma=-1.0)  # noqa: LT104\n"
        "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0, alpha=2)))  # noqa: E501, LT102, LT104\n"
        "model['x'] = a\n"
    )
    assert yml.read_text().endswith("      gama: 2.0  # noqa: LT102\n")
    assert _codes(tmp_path, ".") == (1, [("LT102", "c.json", 1)])


def test_add_noqa_leaves_a_file_where_a_comment_would_change_it(write: Callable[..., Path], tmp_path: Path) -> None:
    # The finding's line ends inside a string written over two lines: a comment there is text.
    text = "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma='''\\\n1.5''')))\n"
    cfg = write("a.py", text)
    code, out = invoke("lint", "a.py", "--add-noqa", cwd=tmp_path)
    assert code == 0 and "a.py left as it is: " in out
    assert cfg.read_text() == text


def test_unused_noqa_is_fixed_by_removing_it(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("a.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))  # noqa: LT102\n")
    assert _codes(tmp_path, "a.py") == (0, [("LT100", "a.py", 1)])  # a warning
    code, out = invoke("lint", "a.py", "--fix", "--show-fixes", cwd=tmp_path)
    assert code == 0 and "  a.py:1:75  LT100  remove the comment\n" in out
    assert cfg.read_text() == "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"


def test_baseline_round_trip(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("configs/a.py", TYPO)
    code, out = invoke("lint", "configs", "--write-baseline", ".losstune-baseline.json", cwd=tmp_path)
    assert (code, out) == (0, "Wrote 1 finding to the baseline .losstune-baseline.json.\n")
    data = json.loads((tmp_path / ".losstune-baseline.json").read_text())
    assert data["findings"] == [
        {
            "file": "configs/a.py",
            "code": "LT102",
            "key": "model.bbox_head.loss_cls.gama",
            "message": "`FocalLoss` has no parameter `gama` (building the model fails with an unexpected keyword "
            "argument); did you mean `gamma`?",
        }
    ]
    assert _codes(tmp_path, "configs", "--baseline", ".losstune-baseline.json") == (0, [])
    # Lines added above the known finding, and a new finding: only the new one is reported.
    cfg.write_text("# a comment\n\n" + TYPO.replace("gama=2.0", "gama=2.0, alpha='0.5'"))
    assert _codes(tmp_path, "configs", "--baseline", ".losstune-baseline.json") == (1, [("LT103", "configs/a.py", 3)])
    # From another folder, and from [tool.losstune].
    assert _codes(tmp_path / "configs", ".", "--baseline", "../.losstune-baseline.json")[1] == [("LT103", "a.py", 3)]
    write("pyproject.toml", '[tool.losstune]\nbaseline = ".losstune-baseline.json"\n')
    assert _codes(tmp_path, "configs") == (1, [("LT103", "configs/a.py", 3)])


def test_a_missing_or_broken_baseline_is_an_error_naming_file_and_line(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("a.py", TYPO)
    code, out = invoke("lint", "a.py", "--baseline", "nope.json", cwd=tmp_path)
    assert code == 2 and "baseline nope.json:1: does not exist; write it with --write-baseline nope.json" in out
    write("bad.json", '{"kind": "losstune-baseline",\n "version": 1,\n "findings": [1,]}\n')
    code, out = invoke("lint", "a.py", "--baseline", "bad.json", cwd=tmp_path)
    assert code == 2 and "baseline bad.json:3: JSON syntax error" in out
    write("other.json", '{\n "kind": "losstune-baseline", "version": 1,\n "findings": [\n  {"file": "a.py"}]}\n')
    code, out = invoke("lint", "a.py", "--baseline", "other.json", cwd=tmp_path)
    assert code == 2 and "baseline other.json:4: a finding needs file, code and message" in out


def test_json_sarif_and_rdjson_carry_each_fix(write: Callable[..., Path], tmp_path: Path) -> None:
    write("a.py", TYPO)
    code, out = invoke("lint", "a.py", "--format", "json", cwd=tmp_path)
    assert json.loads(out)["diagnostics"][0]["suggested_fix"] == {
        "safety": "safe",
        "title": "rename it to `gamma`",
        "replacements": [{"file": "a.py", "line": 1, "column": 61, "end_line": 1, "end_column": 65, "text": "gamma"}],
    }
    code, out = invoke("lint", "a.py", "--format", "sarif", cwd=tmp_path)
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["fixes"] == [
        {
            "description": {"text": "rename it to `gamma`"},
            "artifactChanges": [
                {
                    "artifactLocation": {"uri": "a.py"},
                    "replacements": [
                        {
                            "deletedRegion": {"startLine": 1, "startColumn": 61, "endLine": 1, "endColumn": 65},
                            "insertedContent": {"text": "gamma"},
                        }
                    ],
                }
            ],
        }
    ]
    code, out = invoke("lint", "a.py", "--format", "rdjson", cwd=tmp_path)
    assert code == 1
    assert json.loads(out) == {
        "source": {"name": "losstune", "url": "https://pypi.org/project/losstune/"},
        "diagnostics": [
            {
                "message": "`FocalLoss` has no parameter `gama` (building the model fails with an unexpected keyword "
                "argument); did you mean `gamma`? (fix: rename it to `gamma`)",
                "severity": "ERROR",
                "code": {"value": "LT102"},
                "location": {
                    "path": "a.py",
                    "range": {"start": {"line": 1, "column": 61}, "end": {"line": 1, "column": 65}},
                },
                "suggestions": [
                    {"range": {"start": {"line": 1, "column": 61}, "end": {"line": 1, "column": 65}}, "text": "gamma"}
                ],
            }
        ],
    }


def test_rdjson_columns_count_utf8_bytes(write: Callable[..., Path], tmp_path: Path) -> None:
    write("a.py", "x = 'é'; " + TYPO)
    code, out = invoke("lint", "a.py", "--format", "rdjson", cwd=tmp_path)
    (d,) = json.loads(out)["diagnostics"]
    assert code == 1
    assert d["location"]["range"]["start"] == {"line": 1, "column": 61 + 9 + 1}


def test_fix_with_json_keeps_standard_output_json(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("a.py", TYPO.replace("gama=2.0", "gama=2.0, alpha=None"))
    result = CliRunner().invoke(app, ["lint", str(cfg), "--fix", "--show-fixes", "--format", "json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and [d["code"] for d in data["diagnostics"]] == ["LT103"]
    assert "Fixed 1 finding:" in result.stderr and "LT102  rename it to `gamma`" in result.stderr


@pytest.mark.parametrize("version", ["true", "1.0", '"1"', "2"])
def test_a_baseline_of_another_version_is_refused_at_its_line(
    version: str, write: Callable[..., Path], tmp_path: Path
) -> None:
    write("a.py", "x = 1\n")
    write("b.json", f'{{"kind": "losstune-baseline",\n "version": {version},\n "findings": []}}\n')
    code, out = invoke("lint", "a.py", "--baseline", "b.json", cwd=tmp_path)
    assert (code, out) == (
        2,
        f"losstune: error: baseline b.json:2: version {version} is not one this losstune reads (1); a baseline is "
        'the file --write-baseline writes ({"kind": "losstune-baseline", "version": 1, "findings": [...]})\n',
    )

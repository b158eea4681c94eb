"""`losstune lint`: walking, base files, suppressions, settings, formats and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losstune.cli.app import app
from tests.conftest import EXAMPLES, REPO

runner = CliRunner()

BASE = """
model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        num_classes=80,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gama=2.0, alpha=0.25),
        loss_bbox=dict(type='L1Loss', reduction='avg')),
    train_cfg=dict(sampler=dict(type='PseudoSampler')))
train_dataloader = dict(batch_size=2, sampler=dict(type='DefaultSampler', shuffle=True))
"""


@pytest.fixture
def tree(write: Callable[..., Path], tmp_path: Path) -> Path:
    write("configs/_base_/retina.py", BASE)
    write("configs/a.py", "_base_ = './_base_/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(alpha=1.5)))\n")
    write("configs/b.py", "_base_ = './_base_/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma='1.5')))\n")
    write("configs/metafile.yml", "- Name: not a config\n")
    return tmp_path


def _json(*args: str, cwd: Path) -> tuple[int, dict[str, object]]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, ["lint", *args, "--format", "json"])
    finally:
        os.chdir(old)
    return result.exit_code, json.loads(result.stdout)


def _found(data: dict[str, object]) -> list[tuple[str, str, int, int]]:
    diags = data["diagnostics"]
    assert isinstance(diags, list)
    return [(d["code"], d["file"], d["line"], d["column"]) for d in diags]


def test_examples_are_clean() -> None:
    result = runner.invoke(app, ["lint", str(EXAMPLES), "--format", "text"])
    assert result.exit_code == 0, result.stdout
    assert "All checks passed (11 configs checked)." in result.stdout


def test_base_file_findings_are_reported_once_where_written(tree: Path) -> None:
    code, data = _json("configs", cwd=tree)
    assert code == 1
    assert data["version"] == 1 and data["files"] == 2
    assert _found(data) == [
        ("LT102", "configs/_base_/retina.py", 6, 59),
        ("LT105", "configs/_base_/retina.py", 7, 49),
        ("LT104", "configs/a.py", 2, 49),
        ("LT103", "configs/b.py", 2, 49),
    ]
    first = data["diagnostics"][0]  # type: ignore[index]
    assert first["key"] == "model.bbox_head.loss_cls.gama" and first["severity"] == "error"
    assert first["name"] == "unknown-parameter" and (first["end_line"], first["end_column"]) == (6, 63)


def test_unused_base_is_checked_by_itself(write: Callable[..., Path], tmp_path: Path) -> None:
    write("configs/_base_/lonely.py", "loss = dict(type='FocalLoss', gamma=-1.0)\n")
    code, data = _json("configs", cwd=tmp_path)
    assert (code, _found(data)) == (1, [("LT104", "configs/_base_/lonely.py", 1, 37)])


def test_a_base_fragment_named_base_beside_its_configs_is_checked_through_them(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    # MMOCR's convention: `_base_dbnet_r18.py` next to the configs that inherit it, which add the
    # default_scope that decides which registry its losses are looked up in.
    write("configs/_base_/runtime.py", "default_scope = 'mmocr'\n")
    write("configs/dbnet/_base_dbnet.py", "model = dict(det_head=dict(module_loss=dict(type='DBModuleLoss')))\n")
    write("configs/dbnet/dbnet_r18.py", "_base_ = ['_base_dbnet.py', '../_base_/runtime.py']\n")
    code, data = _json("configs", cwd=tmp_path)
    assert (code, _found(data), data["files"]) == (0, [], 1)


def test_noqa_comments(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "cfg.py",
        "a = dict(type='FocalLoss', gamma=-1.0)  # losstune: noqa: LT104\n"
        "b = dict(type='FocalLoss', gamma=-1.0)  # losstune: noqa: LT103\n"
        "c = dict(type='FocalLoss', gamma=-1.0, gama=1)  # losstune: noqa\n"
        "model = dict(loss_a=a, loss_b=b, loss_c=c)\n",
    )
    code, data = _json("cfg.py", cwd=tmp_path)
    # The LT103 of line 2 silences nothing there: that is a finding of its own.
    assert (code, _found(data)) == (1, [("LT104", "cfg.py", 2, 34), ("LT100", "cfg.py", 2, 41)])


def test_noqa_comments_of_the_form_ruff_reads(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "cfg.py",
        "a = dict(type='FocalLoss', gamma=-1.0)  # noqa: LT104\n"
        "b = dict(type='FocalLoss', gamma=-1.0)  # noqa: E501\n"
        "c = dict(type='FocalLoss', gamma=-1.0)  # noqa:E501,LT1 (kept on purpose)\n"
        "d = dict(type='FocalLoss', gamma=-1.0)  # noqa\n"
        "model = dict(loss_a=a, loss_b=b, loss_c=c, loss_d=d)\n",
    )
    code, data = _json("cfg.py", cwd=tmp_path)
    assert (code, _found(data)) == (1, [("LT104", "cfg.py", 2, 34)])


def test_noqa_comments_in_a_file_whose_lines_end_in_cr(tmp_path: Path) -> None:
    (tmp_path / "cfg.py").write_bytes(
        b"a = dict(type='FocalLoss', gamma=-1.0)\r"
        b"b = dict(type='FocalLoss', gamma=-1.0)  # losstune: noqa\r\n"
        b"model = dict(loss_a=a, loss_b=b)\r"
    )
    code, data = _json("cfg.py", cwd=tmp_path)
    assert (code, _found(data)) == (1, [("LT104", "cfg.py", 1, 34)])


def test_select_ignore_and_strict(tree: Path, write: Callable[..., Path]) -> None:
    code, data = _json("configs", "--select", "LT103,LT104", cwd=tree)
    assert [c for c, *_ in _found(data)] == ["LT104", "LT103"]
    code, data = _json("configs", "--ignore", "LT1", cwd=tree)
    assert (code, _found(data)) == (0, [])
    write("w.py", "model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=0.0)))\n")
    assert _json("w.py", cwd=tree)[0] == 0
    assert _json("w.py", "--strict", cwd=tree)[0] == 1


def test_pyproject_settings(tree: Path, write: Callable[..., Path]) -> None:
    write(
        "pyproject.toml",
        """
        [tool.losstune]
        ignore = ["LT105"]
        strict = true
        per-file-ignores = {"configs/b.py" = ["LT103"]}
        """,
    )
    _code, data = _json("configs", cwd=tree)
    assert [c for c, *_ in _found(data)] == ["LT102", "LT104"]


def test_user_schema(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "my_losses.yaml",
        """
        losses:
          - name: MyFocalLoss
            summary: A focal loss of our own.
            params:
              gamma: {type: float, default: 2.0, min: 0, description: Focusing exponent.}
              loss_weight: {type: float, default: 1.0, min: 0, description: Weight.}
        """,
    )
    write("cfg.py", "model = dict(bbox_head=dict(loss_cls=dict(type='MyFocalLoss', gamma=-1.0, gama=2.0)))\n")
    code, data = _json("cfg.py", cwd=tmp_path)
    assert [c for c, *_ in _found(data)] == ["LT101"]  # unknown type: a warning
    code, data = _json("cfg.py", "--schema", "my_losses.yaml", cwd=tmp_path)
    assert (code, [c for c, *_ in _found(data)]) == (1, ["LT104", "LT102"])
    write("pyproject.toml", '[tool.losstune]\nschema = ["my_losses.yaml"]\n')
    assert [c for c, *_ in _found(_json("cfg.py", cwd=tmp_path)[1])] == ["LT104", "LT102"]


def test_mmdet_version_option(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", "model = dict(bbox_head=dict(loss_bbox=dict(type='EIoULoss')))\n")
    assert _found(_json("cfg.py", cwd=tmp_path)[1]) == []
    assert [c for c, *_ in _found(_json("cfg.py", "--mmdet-version", "2", cwd=tmp_path)[1])] == ["LT101"]


def test_loader_problems_are_findings(write: Callable[..., Path], tmp_path: Path) -> None:
    write("bad.py", "model = dict(\n")
    write("child.py", "_base_ = './missing.py'\n")
    code, data = _json(".", cwd=tmp_path)
    assert (code, _found(data)) == (1, [("LT001", "bad.py", 1, 13), ("LT006", "child.py", 1, 10)])


def test_each_config_naming_a_missing_base_has_its_finding(write: Callable[..., Path], tmp_path: Path) -> None:
    # The base is resolved once and its result shared: the finding is where each config names it.
    for name in ("a.py", "b.py", "c.py"):
        write(name, "x = 1\n_base_ = './missing.py'\n")
    code, data = _json(".", cwd=tmp_path)
    assert (code, _found(data)) == (1, [("LT006", f, 2, 10) for f in ("a.py", "b.py", "c.py")])


def test_sarif_validates_against_the_sarif_schema(tree: Path) -> None:
    sarif_model = pytest.importorskip("pydantic_sarif.model")
    old = os.getcwd()
    os.chdir(tree)
    try:
        result = runner.invoke(app, ["lint", "configs", "--format", "sarif"])
    finally:
        os.chdir(old)
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    sarif_model.StaticAnalysisResultsFormatSarifVersion210JsonSchema.model_validate(log)
    run = log["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["LT102", "LT105", "LT104", "LT103"]
    region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 6, "startColumn": 59, "endLine": 6, "endColumn": 63}
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"LT001", "LT101", "LT114"}


def test_github_format_and_auto(tree: Path) -> None:
    env = {**os.environ, "GITHUB_ACTIONS": "true", "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "losstune", "lint", "configs"], capture_output=True, text=True, cwd=tree, env=env
    )
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(
        "::error file=configs/_base_/retina.py,line=6,col=59,endLine=6,endColumn=63,title=LT102 unknown-parameter::"
    )


def test_could_not_run_is_exit_2(write: Callable[..., Path], tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "losstune", "lint", "nope/"], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2 and "`nope` does not exist" in out.stderr
    write("bad.yaml", "losses: [{params: 3}]\n")
    write("cfg.py", "x = 1\n")
    out = subprocess.run(
        [sys.executable, "-m", "losstune", "lint", "cfg.py", "--schema", "bad.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "bad.yaml" in out.stderr and "Traceback" not in out.stderr


def test_lint_of_one_file_imports_no_torch() -> None:
    code = (
        "import sys; from losstune.cli.app import main; sys.argv = ['losstune', 'lint', "
        f"{str(EXAMPLES / 'retinanet_r50_fpn_1x_coco.py')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip().endswith("False")

"""The command line: output, formats and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losstune.cli.app import app
from losstune.rules import ALL_RULES
from tests.conftest import EXAMPLES, REPO, interrupt_group, invoke

runner = CliRunner()
RETINA = str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
RETINA_15 = str(EXAMPLES / "retinanet_r50_fpn_gamma1.5_1x_coco.py")


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "losstune", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_explain_text_shows_each_value_with_its_origin() -> None:
    out = _run("explain", "examples/retinanet_r50_fpn_gamma1.5_1x_coco.py")
    assert out.returncode == 0, out.stderr
    lines = [" ".join(line.split()) for line in out.stdout.splitlines()]

    def has(prefix: str) -> bool:
        return any(line.startswith(prefix) for line in lines)

    assert "model.bbox_head.loss_cls FocalLoss" in lines
    assert has("gamma 1.5 examples/retinanet_r50_fpn_gamma1.5_1x_coco.py:5 Focusing exponent")
    assert has("loss_weight 1.0 examples/_base_/models/retinanet_r50_fpn.py:48")
    # Parameters the config leaves unset are shown with their defaults.
    assert has("reduction 'mean' default How element-wise losses")
    assert has("activated False default")
    assert "sampler: PseudoSampler" in lines
    assert "model.train_cfg.sampler set at examples/_base_/models/retinanet_r50_fpn.py:59" in lines


def test_explain_json_is_versioned_and_exact() -> None:
    result = runner.invoke(app, ["explain", RETINA, "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["version"] == 1 and data["kind"] == "explain"
    [cls, bbox] = data["losses"]
    assert (cls["key"], cls["type"], cls["head"]) == ("model.bbox_head.loss_cls", "FocalLoss", "model.bbox_head")
    gamma = next(p for p in cls["params"] if p["name"] == "gamma")
    assert gamma["value"] == 2.0
    assert gamma["origin"]["line"] == 46 and gamma["origin"]["file"].endswith("_base_/models/retinanet_r50_fpn.py")
    assert cls["sampler"]["type"] == "PseudoSampler" and cls["sampler"]["key"] == "model.train_cfg.sampler"
    assert bbox["type"] == "L1Loss"


def test_diff_reports_the_changed_fields_and_exits_1() -> None:
    result = runner.invoke(app, ["diff", RETINA, RETINA_15, "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    changed = {d["key"]: (d["a"]["value"], d["b"]["value"]) for d in data["differences"]}
    assert changed == {"model.bbox_head.loss_cls.gamma": (2.0, 1.5), "model.bbox_head.loss_cls.alpha": (0.25, 0.5)}
    assert data["differences"][0]["b"]["origin"]["line"] == 5


def test_diff_of_identical_losses_exits_0() -> None:
    yaml_twin = str(EXAMPLES / "yaml" / "retinanet_r50_fpn_1x_coco.yaml")
    result = runner.invoke(app, ["diff", RETINA, yaml_twin])
    assert result.exit_code == 0, result.stdout
    assert "No loss or sampler field differs." in result.stdout


def test_diff_shows_a_loss_type_swap() -> None:
    result = runner.invoke(app, ["diff", RETINA, str(EXAMPLES / "retinanet_r50_fpn_giou_1x_coco.py")])
    assert result.exit_code == 1
    assert "model.bbox_head.loss_bbox.type" in result.stdout
    assert "'L1Loss'" in result.stdout and "'GIoULoss'" in result.stdout


@pytest.mark.parametrize(
    ("name", "text", "code", "where"),
    [
        ("bad.py", "model = dict(\n", "LT001", "bad.py:1:13"),
        ("child.py", "_base_ = './missing.py'\n", "LT006", "child.py:1:10"),
        ("enc.py", b"x = '\xfe'\n", "LT002", "enc.py:1:6"),
        ("empty.py", "", "LT003", "empty.py:1:1"),
        ("cfg.txt", "x = 1\n", "LT005", "cfg.txt:1:1"),
    ],
)
def test_bad_input_is_one_paragraph_with_exit_2(
    write: Callable[..., Path], name: str, text: str | bytes, code: str, where: str
) -> None:
    path = write(name, text)
    out = _run("explain", str(path))
    assert out.returncode == 2
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert where in out.stderr and f"error[{code}]" in out.stderr
    assert "fix:" in out.stderr


def test_bad_input_in_json_mode(write: Callable[..., Path]) -> None:
    path = write("child.py", "_base_ = './missing.py'\n")
    out = _run("explain", str(path), "--format", "json")
    assert out.returncode == 2
    data = json.loads(out.stdout)
    assert data["kind"] == "error"
    assert [(d["code"], d["line"], d["column"]) for d in data["diagnostics"]] == [("LT006", 1, 10)]


def test_directory_argument(tmp_path: Path) -> None:
    out = _run("explain", str(tmp_path))
    assert out.returncode == 2 and "error[LT004]" in out.stderr and "Traceback" not in out.stderr


def test_help_teaches() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for word in ("explain", "diff", "Exit codes"):
        assert word in out.stdout
    out = _run("explain", "--help")
    assert "file:line" in out.stdout and "Example" in out.stdout


def test_warnings_go_to_stderr_and_do_not_fail(write: Callable[..., Path]) -> None:
    path = write("cfg.py", "_base_ = []\nimport numpy as np\nloss_cls = dict(type='FocalLoss', alpha=np.sqrt(0.5))\n")
    out = _run("explain", path.name, cwd=path.parent)
    assert out.returncode == 0
    assert "warning[LT010]" in out.stderr
    assert "<unknown: np.sqrt(0.5)>" in out.stdout


def test_rule_command_explains_a_rule() -> None:
    result = runner.invoke(app, ["rule", "LT111"])
    assert result.exit_code == 0
    assert result.stdout.startswith("LT111 sampler-with-balanced-loss (error)")
    assert "PseudoSampler" in result.stdout
    assert runner.invoke(app, ["rule", "wrong-type"]).stdout.startswith("LT103 wrong-type")
    listing = runner.invoke(app, ["rule"]).stdout.splitlines()
    assert listing[0].startswith("LT001") and any(line.startswith("LT114") for line in listing)
    assert runner.invoke(app, ["rule", "LT999"]).exit_code == 2


def test_rule_shows_its_documentation_and_what_it_reports_on_its_examples() -> None:
    result = runner.invoke(app, ["rule", "LT113"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert result.stdout == (
        "LT113 zero-loss-weight (warning)\n"
        "Fix: none (by hand, as each finding's fix says)\n"
        "\n"
        "`loss_weight=0`: the loss is computed at every iteration and contributes nothing.\n"
        "\n"
        "Sometimes intended (an ablation), often a leftover. If the loss should be off, removing the\n"
        "head or the loss says so more clearly; if it should count, give it a weight.\n"
        "\n"
        "Reported:\n"
        "    1 | model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=0.0)))\n"
        "      |                                                                       ^ `model.bbox_head.loss_bbox` "
        "has loss_weight=0: it is computed but adds nothing to training\n"
        "\n"
        "Not reported:\n"
        "    1 | model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=1.0)))\n"
    )


def test_rule_output_has_no_raw_docstring_markup() -> None:
    for args in (["rule"], ["rule", "LT101"], ["rule", "LT116"], ["rule", "LT006"]):
        out = runner.invoke(app, args, env={"NO_COLOR": "1"}).stdout
        assert "``" not in out and "`" in out, args
    assert "(info, off unless selected)" in runner.invoke(app, ["rule", "LT116"]).stdout


def test_rule_examples_name_their_files_as_the_examples_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The examples run in a scratch folder that is gone when the text is read: a message that names
    # one of their files (LT117's "computed ... at base.py:4") names it as the example does.
    monkeypatch.chdir(tmp_path)
    for rule in ALL_RULES:
        text = runner.invoke(app, ["rule", rule.code], env={"NO_COLOR": "1"}).stdout
        assert "losstune-example-" not in text, rule.code
    text = runner.invoke(app, ["rule", "LT117"], env={"NO_COLOR": "1"}).stdout
    assert "the base's `num_classes` at base.py:4" in text


def test_rule_says_whether_its_fix_is_safe() -> None:
    text = runner.invoke(app, ["rule", "LT102"], env={"NO_COLOR": "1"}).stdout
    assert text.splitlines()[1] == "Fix: safe (lint --fix)"
    assert (
        "    after the fix:\n    1 | model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n" in text
    )
    assert runner.invoke(app, ["rule", "LT112"]).stdout.splitlines()[1] == (
        "Fix: unsafe: it changes training (lint --fix --unsafe-fixes)"
    )
    data = json.loads(runner.invoke(app, ["rule", "--format", "json"]).stdout)
    fixes = {r["code"]: r["fix"] for r in data["rules"]}
    assert fixes["LT102"] == "safe" and fixes["LT111"] == "unsafe" and fixes["LT113"] is None
    lt102 = next(r for r in data["rules"] if r["code"] == "LT102")
    assert lt102["reported"][0]["fixed"].startswith(
        "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma="
    )


def test_rule_as_json_carries_documentation_and_examples() -> None:
    every = json.loads(runner.invoke(app, ["rule", "--format", "json"]).stdout)
    assert (every["version"], every["kind"]) == (1, "rule")
    assert every["codes"][0]["code"] == "LT001" and len(every["rules"]) == len(ALL_RULES)
    (one,) = json.loads(runner.invoke(app, ["rule", "LT104", "-f", "json"]).stdout)["rules"]
    assert one["code"] == "LT104" and one["enabled_by_default"] is True and one["doc"].startswith("A number")
    assert one["reported"][0]["at"] == [{"line": 1, "column": 67}]
    assert one["not_reported"][0]["at"] == []


def test_explain_without_torch_says_how_to_get_the_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    code, out = invoke("explain", "retinanet_r50_fpn_1x_coco.py", cwd=EXAMPLES)
    assert code == 0 and "pip install torch to also see each loss evaluated" in out
    code, out = invoke("explain", "retinanet_r50_fpn_1x_coco.py", "--steps", cwd=EXAMPLES)
    assert code == 2 and "--steps evaluates the losses with PyTorch" in out


def test_every_error_losstune_raises_derives_from_the_one_base_with_exit_code_2() -> None:
    from losstune.edit.apply import FileChanged
    from losstune.edit.plan import EditError
    from losstune.edit.pywrite import WriteError
    from losstune.edit.values import AssignmentError
    from losstune.engine.inputs import InputError
    from losstune.engine.trace import UnsupportedLoss
    from losstune.errors import CommandError, EditFailure, LosstuneError, UsageError
    from losstune.keypath import KeyPathError
    from losstune.lint.settings import SettingsError
    from losstune.loader.fileread import DecodeError, ReadError
    from losstune.loader.pkgfind import NotFound
    from losstune.loader.source import TemplateError
    from losstune.model import ConfigError
    from losstune.schema.registry import SchemaError

    classes = [ConfigError, SchemaError, SettingsError, ReadError, DecodeError, TemplateError, NotFound]
    classes += [KeyPathError, AssignmentError, EditError, WriteError, FileChanged, InputError, UnsupportedLoss]
    classes += [UsageError, EditFailure, CommandError]
    assert [c for c in classes if not issubclass(c, LosstuneError) or c.exit_code != 2] == []
    assert {c for c in classes if issubclass(c, EditFailure)} == {AssignmentError, EditError, WriteError, EditFailure}


def test_a_usage_error_is_one_line_on_stderr_and_in_json_mode_a_json_report(tmp_path: Path) -> None:
    out = _run("set", "cfg.py", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == (
        "losstune: error: give at least one KEY=VALUE (or --unset KEY), then the config file: "
        "losstune set loss_cls.gamma=1.5 configs/retinanet.py\n"
    )
    out = _run("set", "cfg.py", "--format", "json", cwd=tmp_path)
    assert (out.returncode, out.stderr) == (2, "")
    data = json.loads(out.stdout)
    assert (data["kind"], data["details"], data["diagnostics"]) == ("error", [], [])
    assert data["message"].startswith("give at least one KEY=VALUE")


def test_an_edit_refusal_names_the_config_its_reasons_and_what_was_written(ex: Path) -> None:
    code, out = invoke("set", "loss_cls.gamma=-1", "retinanet_r50_fpn_gamma1.5_1x_coco.py", cwd=ex)
    assert code == 2
    first, *rest = out.splitlines()
    assert first == (
        "losstune: error: retinanet_r50_fpn_gamma1.5_1x_coco.py: the edit would make the config invalid; "
        "nothing was written"
    )
    assert rest and all(line.startswith("  ") for line in rest)


def test_the_command_line_modules_read_no_file_and_write_no_json_themselves() -> None:
    import ast

    banned_modules = {"json", "io", "csv", "losstune.loader.fileread", "pathlib.Path.read_text"}
    banned_calls = {"open", "read_text", "read_bytes", "write_text", "dumps", "resolve"}
    found = []
    for path in sorted((REPO / "losstune" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [f"{path.name}: import {a.name}" for a in node.names if a.name in banned_modules]
            elif isinstance(node, ast.ImportFrom) and node.module in banned_modules:
                found.append(f"{path.name}: from {node.module}")
            elif isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in banned_calls:
                    found.append(f"{path.name}:{node.lineno}: {name}()")
    assert found == []


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (("explain", "retinanet_r50_fpn_1x_coco.py", "--no-steps"), "explain"),
        (("diff", "retinanet_r50_fpn_1x_coco.py", "retinanet_r50_fpn_gamma1.5_1x_coco.py"), "diff"),
        (("lint", "retinanet_r50_fpn_1x_coco.py"), "lint"),
        (("set", "loss_cls.gamma=2.5", "retinanet_r50_fpn_1x_coco.py", "--dry-run"), "set"),
        (("sweep", "retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,2.0", "-o", "sweeps"), "sweep"),
        (("schema",), "schema"),
        (("schema", "FocalLoss"), "schema-entry"),
        (("explain", "missing.py"), "error"),
    ],
)
def test_every_json_report_says_its_kind_and_version(ex: Path, args: tuple[str, ...], kind: str) -> None:
    _, out = invoke(*args, "--format", "json", cwd=ex)
    data = json.loads(out)
    assert list(data)[:2] == ["version", "kind"] and (data["version"], data["kind"]) == (1, kind)


def test_the_json_writer_never_writes_nan_or_infinity() -> None:
    from losstune.render.json import document, value

    data = json.loads(document("x", {"v": value([float("nan"), float("-inf"), 1.5])}))
    assert data == {"version": 1, "kind": "x", "v": [{"float": "nan"}, {"float": "-inf"}, 1.5]}
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        document("x", {"v": float("inf")})


def test_reports_hold_absolute_paths_and_renderers_show_them_relative(
    ex: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import losstune
    from losstune.model import Diagnostic, Severity, Span
    from losstune.render import errors, explain, lint
    from losstune.report import explain as build_explain

    monkeypatch.chdir(ex)
    report = build_explain(losstune.load("retinanet_r50_fpn_gamma1.5_1x_coco.py"))
    assert report.config == str(ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py")
    assert all(os.path.isabs(f) for f in report.files)
    data = json.loads(explain.render_json(report))
    assert (
        data["config"] == "retinanet_r50_fpn_gamma1.5_1x_coco.py"
        and "_base_/models/retinanet_r50_fpn.py" in data["files"]
    )
    assert explain.render_text(report).startswith("retinanet_r50_fpn_gamma1.5_1x_coco.py  (")
    found = Diagnostic("LT103", "wrong-type", Severity.ERROR, "bad", Span(str(ex / "a" / "b.py"), 3, 5, 3, 9))
    assert errors.render_diagnostics([found], {}) == "a/b.py:3:5: error[LT103] wrong-type: bad\n"
    assert json.loads(lint.render_json([found], 1))["diagnostics"][0]["file"] == "a/b.py"
    assert "file=a/b.py," in lint.render_github([found])


SERVER = """
import sys
from losstune.cli.app import main
sys.argv = ["losstune", "server"]
main()
"""


def test_ctrl_c_ends_the_server_as_interrupted() -> None:
    pytest.importorskip("pygls")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
    request = f"Content-Length: {len(body)}\r\n\r\n{body}"
    status, _, err = interrupt_group(SERVER, [], "Content-Length", stdin=request)  # once it answered
    assert (status, err) == (-signal.SIGINT, "losstune: interrupted\n")

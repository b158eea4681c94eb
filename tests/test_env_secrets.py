"""A value read from an environment variable is never shown: findings and reports name the
variable (``$NAME``) instead, in every format."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.loader.envmask import EnvMask, EnvValue
from losstune.loader.source import SourceText
from tests.conftest import invoke

SECRET = "hunter2-s3cr3t-XYZ"

CONFIG = """
token = '{{$LT_SECRET:none}}'
model = dict(
    bbox_head=dict(
        type='RetinaHead',
        num_classes=80,
        loss_cls=dict(
            type='FocalLoss', use_sigmoid=True,
            gamma='{{$LT_SECRET:2.0}}',
            alpha={{'$LT_SHORT:0.25'}},
            reduction=token + '-x',
            loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight='{{$LT_NUM:1.0}}', reduction='{{$LT_UNSET:mean}}')))
"""
ENV = {"LT_SECRET": SECRET, "LT_SHORT": "7.5", "LT_NUM": "2.5"}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("LT_UNSET", raising=False)


def _assert_hidden(out: str) -> None:
    assert SECRET not in out
    assert "7.5" not in out and "2.5" not in out


@pytest.mark.usefixtures("secret_env")
def test_lint_names_the_variable_in_every_format(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", CONFIG)
    for fmt in ("text", "json", "sarif", "github"):
        code, out = invoke("lint", "cfg.py", "--format", fmt, cwd=tmp_path)
        assert code == 1, out
        _assert_hidden(out)
        assert "$LT_SECRET" in out and "$LT_SHORT" in out and "$LT_NUM" in out, fmt


@pytest.mark.usefixtures("secret_env")
def test_lint_text_whole_output(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", CONFIG)
    code, out = invoke("lint", "cfg.py", "--format", "text", cwd=tmp_path)
    assert code == 1
    assert out == (
        "cfg.py\n"
        "  8:19  error  LT103 wrong-type  `FocalLoss.gamma` must be float, not str ($LT_SECRET)\n"
        "       8 |             gamma='{{$LT_SECRET:2.0}}',\n"
        "                             ^^^^^^^^^^^^^^^^^^^^\n"
        "    fix: give `$LT_SECRET` a float value\n"
        "  9:19  error  LT104 out-of-range  `FocalLoss.alpha` = $LT_SHORT is out of range: it must be >= 0 and <= 1\n"
        "       9 |             alpha={{'$LT_SHORT:0.25'}},\n"
        "                             ^^^^^^^^^^^^^^^^^^^^\n"
        "    fix: use a value >= 0 and <= 1 (default 0.25)\n"
        "  10:23  error  LT105 invalid-choice  `FocalLoss.reduction` = $LT_SECRET is not one of 'none', 'mean', 'sum'\n"
        "      10 |             reduction=token + '-x',\n"
        "                                 ^^^^^^^^^^^^\n"
        "    fix: use one of 'none', 'mean', 'sum'\n"
        "  12:51  error  LT103 wrong-type  `L1Loss.loss_weight` must be float, not str ($LT_NUM)\n"
        "      12 | …      loss_bbox=dict(type='L1Loss', loss_weight='{{$LT_NUM:1.0}}', "
        "reduction='{{$LT_UNSET:mean}}')))\n"
        "                                                            ^^^^^^^^^^^^^^^^^\n"
        "    fix: write the template unquoted, {{'$LT_NUM:...'}}, so that it gives a float\n"
        "\n"
        "4 errors, 0 warnings in 1 file (1 config checked).\n"
    )


@pytest.mark.usefixtures("secret_env")
def test_explain_shows_the_variable_for_the_value(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", CONFIG)
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code == 0, out
    _assert_hidden(out)
    assert [line[:43].rstrip() for line in out.splitlines()[8:14]] == [
        "  use_sigmoid  True        cfg.py:7",
        "  gamma        $LT_SECRET  cfg.py:8",
        "  alpha        $LT_SHORT   cfg.py:9",
        "  reduction    $LT_SECRET  cfg.py:10",  # token + '-x': a string holding the variable's value
        "                           = token + '-x'",
        "  loss_weight  1.0         cfg.py:11",
    ]
    assert "  loss_weight  $LT_NUM  cfg.py:12 " in out and "  reduction    'mean'   cfg.py:12 " in out
    code, out = invoke("explain", "cfg.py", "--no-steps", "--format", "json", cwd=tmp_path)
    assert code == 0
    _assert_hidden(out)
    [cls, bbox] = json.loads(out)["losses"]
    params = {p["name"]: p["value"] for p in cls["params"]}
    assert params["gamma"] == {"env": ["LT_SECRET"]} and params["alpha"] == {"env": ["LT_SHORT"]}
    assert params["loss_weight"] == 1.0
    bbox_params = {p["name"]: p["value"] for p in bbox["params"]}
    assert bbox_params == {"loss_weight": {"env": ["LT_NUM"]}, "reduction": "mean"}  # LT_UNSET: the default


@pytest.mark.usefixtures("secret_env")
def test_diff_and_set_name_the_variable(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", CONFIG)
    write("other.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0, alpha=0.5)))\n")
    for args in (
        ("diff", "cfg.py", "other.py"),
        ("diff", "cfg.py", "other.py", "--format", "json"),
        ("diff", "cfg.py", "other.py", "cfg.py"),
        ("set", "loss_cls.alpha=0.5", "cfg.py", "--dry-run"),
        ("set", "loss_cls.alpha=0.5", "cfg.py", "--dry-run", "--format", "json"),
    ):
        code, out = invoke(*args, cwd=tmp_path)
        assert code in (0, 1, 2), (args, out)
        _assert_hidden(out)
        assert "LT_" in out, args


def test_loader_messages_name_the_variable(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The quoted form substitutes the bare token: `alpha=hunter2...` is a name Python cannot find.
    monkeypatch.setenv("LT_TOKEN", "hunter2token")
    write("cfg.py", "model = dict(loss_cls=dict(type='FocalLoss', alpha={{'$LT_TOKEN:0.25'}}))\n")
    for fmt in ("text", "json"):
        code, out = invoke("explain", "cfg.py", "--format", fmt, cwd=tmp_path)
        assert code == 2 and "hunter2token" not in out and "$LT_TOKEN" in out, out


def test_mask_of_a_value() -> None:
    src = SourceText.from_file("c.py", "a = '{{$A:x}}'\nb = '{{$B:y}}'\n", {"A": "abcd-efgh", "B": "z"})
    mask = EnvMask([src])
    assert mask.text("see abcd-efgh/data") == "see $A/data"
    assert mask.text("z and zz") == "z and zz"  # too short to hide in free text
    assert mask.value("prefix-abcd-efgh", None) == "prefix-abcd-efgh"  # a default: shown
    assert repr(EnvValue(("A", "B"))) == "$A, $B"


def test_steps_on_sample_tensors_name_the_variable(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("LT_ALPHA", "0.35")
    write(
        "cfg.py",
        "model = dict(bbox_head=dict(type='RetinaHead', num_classes=3, "
        "loss_cls=dict(type='FocalLoss', use_sigmoid=True, alpha={{'$LT_ALPHA:0.25'}})))\n",
    )
    for args in (("explain", "cfg.py", "--steps"), ("eval", "cfg.py", "--loss", "loss_cls", "--no-check")):
        for fmt in ("text", "json"):
            code, out = invoke(*args, "--format", fmt, cwd=tmp_path)
            assert code == 0, out
            assert "0.35" not in out and "α=$LT_ALPHA" in out, (args, fmt)


def test_a_value_read_inside_a_string_literal_is_hidden_as_python_reads_it(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside quotes the substituted `\1` is an escape: the type is `rx-SECRET...\x01...`.
    monkeypatch.setenv("LT_RE", "rx-SECRET(a+)\\1$&")
    monkeypatch.setenv("LT_KEY", "key-SECRET-1234")
    write(
        "cfg.py",
        "model = dict(bbox_head=dict(loss_cls=dict(type='{{$LT_RE:FocalLoss}}'), "
        "loss_bbox=dict(type='L1Loss', **{'{{$LT_KEY:x}}': 1})))\n",
    )
    for args in (("lint", "cfg.py"), ("lint", "cfg.py", "-f", "json"), ("explain", "cfg.py", "--no-steps")):
        code, out = invoke(*args, cwd=tmp_path)
        assert code in (0, 1), out
        assert "SECRET" not in out and "$LT_RE" in out and "$LT_KEY" in out, (args, out)
    code, out = invoke("set", "loss_bbox.loss_weight=2.0", "cfg.py", "--dry-run", cwd=tmp_path)
    assert "SECRET" not in out and "$LT_KEY" in out, out

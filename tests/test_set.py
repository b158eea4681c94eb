"""`losstune set`: schema-checked edits that keep the file as written, and resolve as asked."""

from __future__ import annotations

import copy
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import losstune
from tests.conftest import invoke


def _set(*args: str, cwd: Path) -> tuple[int, str]:
    return invoke("set", *args, cwd=cwd)


def _resolved(path: Path) -> dict[str, Any]:
    return losstune.load(path).to_dict()


def _with(tree: dict[str, Any], *changes: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    out = copy.deepcopy(tree)
    for path, value in changes:
        node = out
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return out


def _mmengine(path: Path) -> dict[str, Any] | None:
    try:
        from mmengine.config import Config
    except ImportError:  # pragma: no cover - mmengine is a dev dependency
        return None
    with redirect_stdout(io.StringIO()):
        out: dict[str, Any] = Config.fromfile(str(path)).to_dict()
        return out


def test_value_written_in_the_config_is_replaced_in_place(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    before_text, before = cfg.read_text(), _resolved(cfg)
    code, out = _set("loss_cls.gamma=2.5", cfg.name, cwd=ex)
    assert code == 0, out
    after_text = cfg.read_text()
    changed = [(a, b) for a, b in zip(before_text.splitlines(), after_text.splitlines(), strict=True) if a != b]
    assert changed == [
        (
            "model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5, alpha=0.5)))",
            "model = dict(bbox_head=dict(loss_cls=dict(gamma=2.5, alpha=0.5)))",
        )
    ]
    expected = _with(before, (("model", "bbox_head", "loss_cls", "gamma"), 2.5))
    assert _resolved(cfg) == expected
    assert _mmengine(cfg) in (None, expected)


def test_inherited_value_gets_an_override_merged_into_the_existing_model(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    before_text, before = cfg.read_text(), _resolved(cfg)
    assert _set("loss_bbox.loss_weight=2.0", "rpn_head.loss_cls.use_sigmoid=True", cfg.name, cwd=ex)[0] == 2
    assert cfg.read_text() == before_text  # an unknown key: nothing written
    code, out = _set("loss_bbox.loss_weight=2.0", cfg.name, cwd=ex)
    assert code == 0, out
    assert "loss_bbox=dict(loss_weight=2.0)" in cfg.read_text()
    assert all(line in cfg.read_text().splitlines() for line in before_text.splitlines() if line.startswith("#"))
    expected = _with(before, (("model", "bbox_head", "loss_bbox", "loss_weight"), 2.0))
    assert _resolved(cfg) == expected
    assert _mmengine(cfg) in (None, expected)


def test_override_inside_cascade_heads_carries_the_whole_list(ex: Path) -> None:
    cfg = ex / "cascade_rcnn_r50_fpn_1x_coco.py"
    before = _resolved(cfg)
    code, out = _set("bbox_head.1.loss_cls.loss_weight=2.0", cfg.name, cwd=ex)
    assert code == 0, out
    expected = _with(before, (("model", "roi_head", "bbox_head", 1, "loss_cls", "loss_weight"), 2.0))
    assert _resolved(cfg) == expected
    assert _mmengine(cfg) in (None, expected)
    code, out = _set("bbox_head.*.loss_bbox.beta=0.5", cfg.name, cwd=ex)
    assert code == 0, out
    for i in range(3):
        expected = _with(expected, (("model", "roi_head", "bbox_head", i, "loss_bbox", "beta"), 0.5))
    assert _resolved(cfg) == expected


def test_type_swap_keeps_what_the_new_type_takes_and_is_checked(ex: Path) -> None:
    cfg = ex / "faster_rcnn_r50_fpn_1x_coco.py"
    before_text, before = cfg.read_text(), _resolved(cfg)
    # GIoULoss in an RoI head needs reg_decoded_bbox=True: refused alone, byte-identical file.
    code, out = _set("roi_head.bbox_head.loss_bbox.type=GIoULoss", cfg.name, cwd=ex)
    assert code == 2 and "LT112" in out
    assert cfg.read_text() == before_text
    code, out = _set(
        "roi_head.bbox_head.loss_bbox.type=GIoULoss", "roi_head.bbox_head.reg_decoded_bbox=True", cfg.name, cwd=ex
    )
    assert code == 0, out
    assert "`beta`" in out  # dropped, and said so
    expected = copy.deepcopy(before)
    head = expected["model"]["roi_head"]["bbox_head"]
    head["loss_bbox"] = {"type": "GIoULoss", "loss_weight": 1.0}
    head["reg_decoded_bbox"] = True
    assert _resolved(cfg) == expected
    assert _mmengine(cfg) in (None, expected)
    assert "_delete_=True" in cfg.read_text()


def test_unset_restores_the_default(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    before = _resolved(cfg)
    code, out = _set("--unset", "loss_cls.alpha", cfg.name, cwd=ex)
    assert code == 0, out
    expected = copy.deepcopy(before)
    del expected["model"]["bbox_head"]["loss_cls"]["alpha"]
    assert _resolved(cfg) == expected
    assert _mmengine(cfg) in (None, expected)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("loss_cls.gama=1.5", "LT102"),
        ("loss_cls.gamma='1.5'", "LT103"),
        ("loss_cls.gamma=-1", "LT104"),
        ("loss_bbox.reduction=avg", "LT105"),
        ("loss_cls.use_sigmoid=1", "LT107"),
        ("gamma=1.0", "ambiguous"),
        ("nothing.here=1", "names nothing"),
        ("loss_cls.gamma", "not an assignment"),
    ],
)
def test_refused_edits_leave_every_file_byte_identical(ex: Path, assignment: str, message: str) -> None:
    snapshot = {p: p.read_bytes() for p in ex.rglob("*") if p.is_file()}
    code, out = _set(assignment, "retinanet_r50_fpn_1x_coco.py", cwd=ex)
    assert code == 2 and message in out
    assert {p: p.read_bytes() for p in ex.rglob("*") if p.is_file()} == snapshot


def test_yaml_and_json_configs(ex: Path) -> None:
    yml = ex / "yaml" / "retinanet_r50_fpn_gamma2.5_1x_coco.yaml"
    text = yml.read_text()
    before = _resolved(yml)
    assert _set("loss_cls.gamma=3.0", "loss_cls.alpha=0.5", str(yml.relative_to(ex)), cwd=ex)[0] == 0
    comments = [line for line in text.splitlines() if line.strip().startswith("#")]
    assert all(c in yml.read_text().splitlines() for c in comments)
    expected = _with(
        before, (("model", "bbox_head", "loss_cls", "gamma"), 3.0), (("model", "bbox_head", "loss_cls", "alpha"), 0.5)
    )
    assert _resolved(yml) == expected
    assert _mmengine(yml) in (None, expected)
    js = ex / "json" / "faster_rcnn_r50_fpn_1x_coco.json"
    before = _resolved(js)
    assert _set("rpn.sampler.num=512", str(js.relative_to(ex)), cwd=ex)[0] == 0
    expected = _with(before, (("model", "train_cfg", "rpn", "sampler", "num"), 512))
    assert _resolved(js) == expected
    assert _mmengine(js) in (None, expected)


def test_dry_run_writes_nothing_and_output_file(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_1x_coco.py"
    text = cfg.read_text()
    code, out = _set("loss_cls.gamma=1.0", cfg.name, "--dry-run", cwd=ex)
    assert code == 0 and "+model = dict(bbox_head=dict(loss_cls=dict(gamma=1.0)))" in out
    assert cfg.read_text() == text
    (ex / "runs").mkdir()
    code, out = _set("loss_cls.gamma=1.0", cfg.name, "-o", "runs/gamma1.py", cwd=ex)
    assert code == 0, out
    assert cfg.read_text() == text
    new = ex / "runs" / "gamma1.py"
    assert "'../_base_/models/retinanet_r50_fpn.py'" in new.read_text()
    assert _resolved(new) == _with(_resolved(cfg), (("model", "bbox_head", "loss_cls", "gamma"), 1.0))


def test_in_base_edits_the_defining_file_and_lists_who_uses_it(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_1x_coco.py"
    base = ex / "_base_" / "models" / "retinanet_r50_fpn.py"
    text = cfg.read_text()
    code, out = _set("loss_bbox.loss_weight=2.0", cfg.name, "--in-base", cwd=ex)
    assert code == 0, out
    assert cfg.read_text() == text and "loss_bbox=dict(type='L1Loss', loss_weight=2.0)" in base.read_text()
    assert "retinanet_r50_fpn_gamma1.5_1x_coco.py" in out and "yaml/retinanet_r50_fpn_1x_coco.yaml" in out


def test_read_only_file_is_refused(ex: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ex / "retinanet_r50_fpn_1x_coco.py"
    text = cfg.read_text()
    real_access = os.access
    # Root may write anywhere, so the permission check is made to see a read-only file.
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == cfg else real_access(p, mode))
    code, out = _set("loss_cls.gamma=1.0", cfg.name, cwd=ex)
    assert code == 2 and "read-only" in out
    assert cfg.read_text() == text


def test_opaque_value_is_refused(write: Callable[..., Path], tmp_path: Path) -> None:
    opaque = write("o.py", "_base_ = []\nimport numpy as np\nloss_cls = dict(type='FocalLoss', gamma=np.sqrt(2.0))\n")
    text = opaque.read_text()
    code, out = _set("loss_cls.gamma=1.0", opaque.name, cwd=tmp_path)
    assert code == 2 and "np.sqrt(2.0)" in out
    assert opaque.read_text() == text


def test_permissions_are_kept(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    cfg.chmod(0o640)
    assert _set("loss_cls.gamma=2.5", cfg.name, cwd=ex)[0] == 0
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640


def test_two_concurrent_sets_keep_both_edits(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_1x_coco.py"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "losstune", "set", assignment, cfg.name],
            cwd=ex,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for assignment in ("loss_cls.gamma=1.0", "loss_bbox.loss_weight=3.0", "loss_cls.alpha=0.5")
    ]
    assert [p.wait() for p in procs] == [0, 0, 0]
    loss = _resolved(cfg)["model"]["bbox_head"]
    assert (loss["loss_cls"]["gamma"], loss["loss_bbox"]["loss_weight"], loss["loss_cls"]["alpha"]) == (1.0, 3.0, 0.5)


def test_a_literal_shared_by_several_keys_changes_only_the_requested_one(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = write(
        "cfg.py",
        """
        model = dict(
            roi_head=dict(
                bbox_head=[
                    dict(type='Shared2FCBBoxHead', loss_bbox=dict(type='L1Loss', loss_weight=5.0))
                    for _ in range(3)
                ]))
        """,
    )
    before = _resolved(cfg)
    code, out = _set("bbox_head.0.loss_bbox.loss_weight=3.0", cfg.name, cwd=tmp_path)
    assert code == 0 and "only the requested key is changed" in out
    assert _resolved(cfg) == _with(before, (("model", "roi_head", "bbox_head", 0, "loss_bbox", "loss_weight"), 3.0))
    code, out = _set("bbox_head.*.loss_bbox.loss_weight=2.0", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert [h["loss_bbox"]["loss_weight"] for h in _resolved(cfg)["model"]["roi_head"]["bbox_head"]] == [2.0] * 3


def test_value_reached_through_a_base_reference(write: Callable[..., Path], tmp_path: Path) -> None:
    write("base.py", "model = dict(type='RetinaNet', bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n")
    cfg = write(
        "track.py",
        """
        _base_ = './base.py'
        detector = _base_.model
        model = dict(_delete_=True, type='Tracker', detector=detector)
        """,
    )
    before = _resolved(cfg)
    code, out = _set("model.detector.bbox_head.loss_cls.gamma=1.0", cfg.name, cwd=tmp_path)
    assert code == 0, out
    # Only model.detector changes; the top-level `detector` variable keeps its value.
    assert _resolved(cfg) == _with(before, (("model", "detector", "bbox_head", "loss_cls", "gamma"), 1.0))
    assert _mmengine(cfg) in (None, _resolved(cfg))


def test_broken_or_missing_config_is_exit_2(write: Callable[..., Path], tmp_path: Path) -> None:
    broken = write("broken.py", "model = dict(\n")
    text = broken.read_text()
    code, out = _set("loss_cls.gamma=1.0", broken.name, cwd=tmp_path)
    assert code == 2 and "LT001" in out and broken.read_text() == text
    code, out = _set("loss_cls.gamma=1.0", "missing.py", cwd=tmp_path)
    assert code == 2 and "LT004" in out and not (tmp_path / "missing.py").exists()


def test_unknown_type_is_edited_with_a_warning(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_1x_coco.py"
    code, out = _set("loss_bbox.type=MyBoxLoss", cfg.name, cwd=ex)
    assert code == 0 and "warning: `MyBoxLoss` is not a known MMDetection type" in out
    assert _resolved(cfg)["model"]["bbox_head"]["loss_bbox"] == {"type": "MyBoxLoss", "loss_weight": 1.0}


RETINA_WITH = (
    "_base_ = []\n"
    "model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=80,\n"
    "    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)))\n"
)


def test_a_config_holding_nan_can_be_edited_and_equals_itself(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("nan.py", RETINA_WITH + "extra = dict(threshold=float('nan'), pair=[float('nan'), 1.0])\n")
    code, out = _set("loss_cls.gamma=1.0", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert _resolved(cfg)["model"]["bbox_head"]["loss_cls"]["gamma"] == 1.0
    nan_loss = write("nan_loss.py", RETINA_WITH.replace("alpha=0.25", "alpha=float('nan')"))
    code, out = invoke("diff", nan_loss.name, nan_loss.name, cwd=tmp_path)
    assert (code, out.splitlines()[-1]) == (0, "No loss or sampler field differs.")


def test_a_value_losstune_cannot_evaluate_elsewhere_does_not_stop_an_edit(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = write("o.py", RETINA_WITH + "import numpy as np\nscale = np.sqrt(2.0)\n")
    code, out = _set("loss_cls.gamma=1.0", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert _resolved(cfg)["model"]["bbox_head"]["loss_cls"]["gamma"] == 1.0


@pytest.mark.parametrize("value", ["1e400", "-1e400", "float('nan')", "float('inf')"])
def test_non_finite_numbers_are_out_of_range(write: Callable[..., Path], tmp_path: Path, value: str) -> None:
    cfg = write("r.py", RETINA_WITH)
    code, out = _set(f"loss_cls.gamma={value}", cfg.name, cwd=tmp_path)
    assert code == 2 and "LT104 out-of-range" in out and "it must be finite and >= 0" in out, out
    assert cfg.read_text() == RETINA_WITH


def test_edits_inserted_at_one_place_keep_their_order(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("r.py", RETINA_WITH + "custom = dict(a=1)\n")
    assert _set("custom.b=2", "custom.c=3", cfg.name, cwd=tmp_path)[0] == 0
    assert cfg.read_text().endswith("custom = dict(a=1, b=2, c=3)\n")


def test_a_value_already_set_is_nothing_to_change_not_an_error(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    before = cfg.read_bytes()
    code, out = _set("loss_cls.gamma=1.5", cfg.name, cwd=ex)
    assert (code, out) == (0, "nothing to change: `model.bbox_head.loss_cls.gamma` is already 1.5\n")
    code, out = _set("loss_cls.gamma=1.5", cfg.name, "--format", "json", cwd=ex)
    data = json.loads(out)
    assert code == 0 and data["kind"] == "set" and data["changes"] == [] and data["written"] is False
    assert data["notes"] == ["`model.bbox_head.loss_cls.gamma` is already 1.5"]
    assert cfg.read_bytes() == before


def test_a_long_value_is_clipped_in_the_change_line_and_the_diff_lines_but_exact_in_json(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_1x_coco.py"
    long = "a" * 100_000
    code, out = _set(f"model.x='{long}'", cfg.name, "--dry-run", cwd=ex)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "  model.x: (unset) -> '" + "a" * 79 + "… (99,922 more characters)"
    assert "+    x='" + "a" * 193 + "…" in lines
    assert max(len(line) for line in lines) <= 202
    code, out = _set(f"model.x='{long}'", cfg.name, "--dry-run", "--format", "json", cwd=ex)
    data = json.loads(out)
    assert data["changes"][0]["new"] == long and data["diff"].endswith(f"+    x='{long}')\n")


def test_a_long_line_of_the_diff_shows_where_it_changes(ex: Path) -> None:
    cfg = ex / "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    line = "model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5, alpha=0.5)))"
    checkpoint = "/checkpoints/" + "x" * 300 + ".pth"
    longer = f"model = dict(backbone=dict(init_cfg=dict(checkpoint='{checkpoint}')), {line[13:]}  # " + "note " * 60
    cfg.write_text(cfg.read_text().replace(line, longer))
    code, out = _set("model.bbox_head.loss_cls.alpha=0.75", cfg.name, "--dry-run", cwd=ex)
    assert code == 0, out
    minus = next(line for line in out.splitlines() if line.startswith("-model") or line.startswith("-…"))
    plus = next(line for line in out.splitlines() if line.startswith("+model") or line.startswith("+…"))
    assert minus.startswith("-…") and "alpha=0.5)" in minus and minus.endswith("…") and len(minus) == 1 + 200 + 2
    assert plus.startswith("+…") and "alpha=0.75)" in plus and plus.endswith("…") and len(plus) == 1 + 200 + 2


def test_a_type_swap_shows_the_old_value_of_each_dropped_parameter(ex: Path) -> None:
    cfg = ex / "faster_rcnn_r50_fpn_1x_coco.py"
    swap = ("roi_head.bbox_head.loss_bbox.type=GIoULoss", "roi_head.bbox_head.reg_decoded_bbox=True", cfg.name)
    code, out = _set(*swap, "--dry-run", cwd=ex)
    assert code == 0, out
    assert "  model.roi_head.bbox_head.loss_bbox.beta: 0.1111111111111111 -> (removed: default applies)\n" in out
    code, out = _set(*swap, "--dry-run", "--format", "json", cwd=ex)
    assert code == 0, out
    changes = {c["key"]: c for c in json.loads(out)["changes"]}
    beta = changes["model.roi_head.bbox_head.loss_bbox.beta"]
    assert (beta["old"], beta["removed"], beta["added"]) == (1.0 / 9.0, True, False)


@pytest.mark.parametrize(
    ("typed", "fix"),
    [
        (
            "loss_cls.gamma=abc",
            "(fix: `gamma` takes a float, and abc is read as the string 'abc': give a float, like loss_cls.gamma=2.0)",
        ),
        ("loss_cls.gamma='1.5'", "(fix: remove the quotes: loss_cls.gamma=1.5)"),
        ('model.bbox_head.loss_cls.gamma="3"', "(fix: remove the quotes: model.bbox_head.loss_cls.gamma=3)"),
        (
            "loss_cls.gamma=[1.5]",
            "(fix: `gamma` takes a float, not a list: give a float, like loss_cls.gamma=2.0)",
        ),
    ],
)
def test_a_wrong_type_on_the_command_line_gets_a_fix_in_command_line_terms(ex: Path, typed: str, fix: str) -> None:
    code, out = _set(typed, "retinanet_r50_fpn_1x_coco.py", cwd=ex)
    assert code == 2 and "LT103" in out
    assert fix in out.replace("\n    ", " ")


def test_a_refused_edit_in_json_lists_the_refusal_findings_as_diagnostics(ex: Path) -> None:
    code, out = _set(
        "loss_cls.gamma=abc", "loss_cls.alpha=-1", "retinanet_r50_fpn_1x_coco.py", "--format", "json", cwd=ex
    )
    assert code == 2
    report = json.loads(out)
    assert report["kind"] == "error" and "nothing was written" in report["message"]
    found = {(d["code"], d["key"], d["severity"]) for d in report["diagnostics"]}
    assert found == {
        ("LT103", "model.bbox_head.loss_cls.gamma", "error"),
        ("LT104", "model.bbox_head.loss_cls.alpha", "error"),
    }
    gamma = next(d for d in report["diagnostics"] if d["code"] == "LT103")
    assert gamma["fix"].startswith("`gamma` takes a float, and abc is read as the string 'abc'")
    assert len(report["details"]) == 2


def test_the_config_may_come_first_or_last(ex: Path) -> None:
    cfg = "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    last = _set("loss_cls.gamma=2.5", cfg, "--dry-run", cwd=ex)
    first = _set(cfg, "loss_cls.gamma=2.5", "--dry-run", cwd=ex)
    assert last[0] == first[0] == 0 and last == first


def test_a_config_path_holding_an_equals_sign_is_the_config_when_it_exists(ex: Path) -> None:
    (ex / "runs").mkdir()
    named = ex / "runs" / "lr=0.01.py"
    named.write_text("_base_ = '../retinanet_r50_fpn_1x_coco.py'\n")
    code, out = _set("loss_cls.gamma=1.0", "runs/lr=0.01.py", cwd=ex)
    assert code == 0, out
    assert _resolved(named)["model"]["bbox_head"]["loss_cls"]["gamma"] == 1.0
    code, out = _set("runs/lr=0.01.py", "loss_cls.gamma=1.5", cwd=ex)
    assert code == 0, out
    assert _resolved(named)["model"]["bbox_head"]["loss_cls"]["gamma"] == 1.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("loss_cls.gamma=1.0",), "name the config file"),
        (
            ("loss_cls.gamma=1.0", "retinanet_r50_fpn_1x_coco.py", "faster_rcnn_r50_fpn_1x_coco.py"),
            "more than one argument names a file",
        ),
        (("retinanet_r50_fpn_1x_coco.py=1", "retinanet_r50_fpn_1x_coco.py"), "names a file"),
        (("retinanet_r50_fpn_1x_coco.py",), "give at least one KEY=VALUE"),
    ],
)
def test_arguments_that_do_not_name_one_config_and_its_assignments_are_refused(
    ex: Path, args: tuple[str, ...], message: str
) -> None:
    code, out = _set(*args, cwd=ex)
    assert code == 2 and message in " ".join(out.split()), out
    assert "Traceback" not in out

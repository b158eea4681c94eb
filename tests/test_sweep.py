"""`losstune sweep`: one child per combination, only overrides, a manifest, all checked first."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

import losstune
from tests.conftest import invoke


def _sweep(*args: str, cwd: Path) -> tuple[int, str]:
    return invoke("sweep", *args, cwd=cwd)


def test_one_child_per_combination_with_a_manifest(ex: Path) -> None:
    code, out = _sweep(
        "retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,1.5,2.0", "loss_cls.alpha=0.25,0.5", "-o", "sweeps", cwd=ex
    )
    assert code == 0, out
    files = sorted(p.name for p in (ex / "sweeps").glob("*.py"))
    assert len(files) == 6 and "retinanet_r50_fpn_1x_coco_gamma-1.5_alpha-0.5.py" in files
    child = ex / "sweeps" / "retinanet_r50_fpn_1x_coco_gamma-1.5_alpha-0.5.py"
    assert child.read_text() == (
        "_base_ = '../retinanet_r50_fpn_1x_coco.py'\n\n"
        "model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5, alpha=0.5)))\n"
    )
    base = losstune.load(ex / "retinanet_r50_fpn_1x_coco.py").to_dict()
    base["model"]["bbox_head"]["loss_cls"].update(gamma=1.5, alpha=0.5)
    assert losstune.load(child).to_dict() == base
    manifest = json.loads((ex / "sweeps" / "manifest.json").read_text())
    assert manifest["version"] == 1 and len(manifest["runs"]) == 6
    assert {"file": child.name, "values": {"loss_cls.gamma": 1.5, "loss_cls.alpha": 0.5}} in manifest["runs"]
    rows = list(csv.reader((ex / "sweeps" / "manifest.csv").open()))
    assert rows[0] == ["file", "loss_cls.gamma", "loss_cls.alpha"] and len(rows) == 7
    # The base value (alpha=0.25) is written too: each file says what it runs.
    assert "alpha=0.25" in (ex / "sweeps" / "retinanet_r50_fpn_1x_coco_gamma-1.0_alpha-0.25.py").read_text()


def test_invalid_combination_writes_nothing(ex: Path) -> None:
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,-1.0", "-o", "sweeps", cwd=ex)
    assert code == 2 and "LT104" in out and "loss_cls.gamma=-1.0" in out
    assert not (ex / "sweeps").exists() or not any((ex / "sweeps").iterdir())


def test_type_swap_in_a_sweep(ex: Path) -> None:
    code, out = _sweep(
        "faster_rcnn_r50_fpn_1x_coco.py",
        "roi_head.bbox_head.loss_bbox.type=SmoothL1Loss,GIoULoss",
        "roi_head.bbox_head.reg_decoded_bbox=True",
        "-o",
        "sw",
        cwd=ex,
    )
    assert code == 0, out
    giou = next((ex / "sw").glob("*GIoULoss*.py"))
    head = losstune.load(giou).to_dict()["model"]["roi_head"]["bbox_head"]
    assert head["loss_bbox"] == {"type": "GIoULoss", "loss_weight": 1.0} and head["reg_decoded_bbox"] is True


def test_existing_files_are_not_overwritten(ex: Path) -> None:
    args = ("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0", "-o", "sweeps")
    assert _sweep(*args, cwd=ex)[0] == 0
    code, out = _sweep(*args, cwd=ex)
    assert code == 2 and "exists already" in out


def test_a_sweep_over_a_million_combinations_is_refused_before_any_work(ex: Path) -> None:
    import time

    gammas = ",".join(str(i) for i in range(1000))
    alphas = ",".join(f"0.{i:03d}" for i in range(1000))
    start = time.perf_counter()
    code, out = _sweep(
        "retinanet_r50_fpn_1x_coco.py", f"loss_cls.gamma={gammas}", f"loss_cls.alpha={alphas}", "-o", "sw", cwd=ex
    )
    assert time.perf_counter() - start < 5
    assert code == 2 and "retinanet_r50_fpn_1x_coco.py" in out
    assert "the sweep has 1,000,000 combinations (1000 x 1000 values), more than the 1,000" in out and "--max" in out
    assert not (ex / "sw").exists()


def test_max_raises_or_lowers_the_limit(ex: Path) -> None:
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,1.5,2.0", "-o", "sw", "--max", "2", cwd=ex)
    assert code == 2 and "the sweep has 3 combinations (3 values), more than the 2" in out
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,1.5,2.0", "-o", "sw", "--max", "3", cwd=ex)
    assert code == 0, out
    assert len(list((ex / "sw").glob("*.py"))) == 3


def test_a_file_created_while_the_sweep_runs_is_never_overwritten(ex: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from losstune.edit import sweep

    (ex / "sweeps").mkdir()
    (ex / "sweeps" / "manifest.json").write_text("theirs\n")
    # The other program writes manifest.json after the sweep looked for existing files.
    real_exists = os.path.exists
    monkeypatch.setattr(sweep.os.path, "exists", lambda p: not str(p).endswith("manifest.json") and real_exists(p))
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,2.0", "-o", "sweeps", cwd=ex)
    monkeypatch.undo()
    assert code == 2 and "manifest.json` was created by another program while the sweep ran" in out
    assert (ex / "sweeps" / "manifest.json").read_text() == "theirs\n"
    assert sorted(p.name for p in (ex / "sweeps").iterdir()) == ["manifest.json"]


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_an_infinite_value_is_valid_json_in_the_report_and_in_the_manifest(ex: Path) -> None:
    code, out = _sweep(
        "retinanet_r50_fpn_1x_coco.py", "model.test_cfg.score_thr=1e999,0.5", "-o", "sweeps", "--format", "json", cwd=ex
    )
    assert code == 0, out
    report = _strict(out)
    assert isinstance(report, dict) and (report["version"], report["kind"]) == (1, "sweep")
    assert report["runs"][0]["values"] == {"model.test_cfg.score_thr": {"float": "inf"}}
    manifest = _strict((ex / "sweeps" / "manifest.json").read_text())
    assert isinstance(manifest, dict) and (manifest["version"], manifest["kind"]) == (1, "manifest")
    assert manifest["runs"][0]["values"] == {"model.test_cfg.score_thr": {"float": "inf"}}
    rows = list(csv.reader((ex / "sweeps" / "manifest.csv").open()))
    assert [_strict(r[1]) for r in rows[1:]] == [{"float": "inf"}, 0.5]


def test_a_refused_sweep_in_json_lists_the_refusal_findings_as_diagnostics(ex: Path) -> None:
    code, out = _sweep(
        "retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,-1", "-o", "sweeps", "--format", "json", cwd=ex
    )
    assert code == 2 and not (ex / "sweeps").exists()
    report = _strict(out)
    assert isinstance(report, dict) and report["kind"] == "error"
    assert [(d["code"], d["key"]) for d in report["diagnostics"]] == [("LT104", "model.bbox_head.loss_cls.gamma")]


def test_the_config_may_come_first_or_last(ex: Path) -> None:
    code, out = _sweep("loss_cls.gamma=1.0,1.5", "retinanet_r50_fpn_1x_coco.py", "-o", "last", cwd=ex)
    assert code == 0, out
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,1.5", "-o", "first", cwd=ex)
    assert code == 0, out
    last, first = sorted(p.name for p in (ex / "last").iterdir()), sorted(p.name for p in (ex / "first").iterdir())
    assert last == first and len(last) == 4


def test_sweep_without_a_config_or_an_axis_is_refused(ex: Path) -> None:
    code, out = _sweep("loss_cls.gamma=1.0,1.5", "-o", "s", cwd=ex)
    assert code == 2 and "name the config file" in out
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "-o", "s", cwd=ex)
    assert code == 2 and "KEY=V1,V2" in out


def test_new_files_follow_the_umask(ex: Path) -> None:
    import stat

    old = os.umask(0o027)
    try:
        code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,1.5", "-o", "sweeps", cwd=ex)
        assert code == 0, out
        code, out = invoke("set", "loss_cls.gamma=1.0", "retinanet_r50_fpn_1x_coco.py", "-o", "new.py", cwd=ex)
        assert code == 0, out
    finally:
        os.umask(old)
    made = [*(ex / "sweeps").iterdir(), ex / "new.py"]
    assert len(made) == 5 and {stat.S_IMODE(p.stat().st_mode) for p in made} == {0o640}


def test_a_wrong_type_in_a_sweep_gets_a_fix_in_terms_of_what_was_typed(ex: Path) -> None:
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma=1.0,abc", "-o", "sweeps", cwd=ex)
    assert code == 2 and not (ex / "sweeps").exists()
    assert "(fix: `gamma` takes a float, and abc is read as the string 'abc': give a float" in " ".join(out.split())
    code, out = _sweep("retinanet_r50_fpn_1x_coco.py", "loss_cls.gamma='1.5',2.0", "-o", "sweeps", cwd=ex)
    assert code == 2 and "(fix: remove the quotes: loss_cls.gamma=1.5)" in " ".join(out.split())

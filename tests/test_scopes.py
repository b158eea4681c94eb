"""Registry scopes: each loss is checked against the registry mmengine would build it from."""

from __future__ import annotations

from pathlib import Path

import pytest

from losstune.config import LoadedConfig
from losstune.lint.run import check_config
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.report import explain
from losstune.schema.registry import Schema, load_schema
from losstune.schema.scopes import resolve_type, scope_at

# A schema of another registry, as a user (or a shipped project schema) writes it.
YOLO_SCHEMA = """\
registry: mmyolo
project: MMYOLO
losses:
  - name: IoULoss
    params:
      iou_mode: {type: str, default: ciou, choices: [ciou, siou, giou]}
      bbox_format: {type: str, default: xywh, choices: [xywh, xyxy]}
      eps: {type: float, default: 1.0e-07}
      reduction: {type: str, default: mean, choices: [none, mean, sum]}
      loss_weight: {type: float, default: 1.0, min: 0}
      return_iou: {type: bool, default: true}
"""


def _findings(tmp_path: Path, source: str, schema: Schema, select: tuple[str, ...] = ()) -> list[tuple[str, int, str]]:
    cfg = tmp_path / "cfg.py"
    cfg.write_text(source, encoding="utf-8")
    loaded = LoadedConfig(Resolver().resolve(str(cfg)))
    found = check_config(loaded, schema, Settings(select=select))
    return [(d.code, d.span.line if d.span else 0, d.message) for d in found]


@pytest.fixture()
def with_yolo(tmp_path: Path) -> Schema:
    extra = tmp_path / "yolo.yaml"
    extra.write_text(YOLO_SCHEMA, encoding="utf-8")
    return load_schema([extra])


def test_a_type_resolves_in_the_scope_or_the_registry_its_prefix_names() -> None:
    assert (resolve_type("IoULoss", "mmyolo").registry, resolve_type("IoULoss", "mmyolo").name) == ("mmyolo", "IoULoss")
    ref = resolve_type("mmdet.IoULoss", "mmyolo")
    assert (ref.registry, ref.name, ref.explicit) == ("mmdet", "IoULoss", True)
    assert resolve_type("mmdet.models.losses.iou_loss.IoULoss", None).name == "IoULoss"
    cfg = {"default_scope": "mmyolo", "model": {"_scope_": "mmdet", "head": {"loss": {"type": "X"}}}}
    assert scope_at(cfg, ("model", "head", "loss"), 3) == ("mmdet", "model._scope_")
    assert scope_at(cfg, ("other",), 3) == ("mmyolo", "default_scope")
    assert scope_at({"default_scope": 3}, ("a",), 3) == (None, "default_scope")
    assert scope_at(cfg, ("model", "head", "loss"), 2) == ("mmdet", None)  # 2.x has no scopes


def test_another_projects_loss_is_not_checked_against_mmdetections(tmp_path: Path) -> None:
    source = (
        "default_scope = 'mmpose'\n"
        "model = dict(head=dict(loss_cls=dict(type='SmoothL1Loss', use_target_weight=True),\n"
        "                       loss_kpt=dict(type='VariFocalLoss', alpha=0.75)))\n"
    )
    assert _findings(tmp_path, source, load_schema()) == []
    noted = _findings(tmp_path, source, load_schema(), select=("LT116",))
    assert [(c, line) for c, line, _ in noted] == [("LT116", 2), ("LT116", 3)]
    assert "MMPose's registry (default_scope='mmpose'), which losstune has no schema for" in noted[0][2]


def test_a_prefix_or_an_enclosing_scope_brings_mmdetections_checks_back(tmp_path: Path) -> None:
    source = (
        "default_scope = 'mmpose'\n"
        "model = dict(head=dict(loss_cls=dict(type='mmdet.FocalLoss', gama=2.0)),\n"
        "             neck=dict(_scope_='mmdet', loss=dict(type='FocalLoss', alpha=1.5)))\n"
    )
    assert [(c, line) for c, line, _ in _findings(tmp_path, source, load_schema())] == [("LT102", 2), ("LT104", 3)]


def test_a_registry_with_a_schema_checks_its_own_parameters(tmp_path: Path, with_yolo: Schema) -> None:
    source = (
        "default_scope = 'mmyolo'\n"
        "model = dict(bbox_head=dict(loss_bbox=dict(type='IoULoss', iou_mode='ciou', bbox_format='xywh',\n"
        "                                           return_iou=True, iou_mdoe='giou')))\n"
    )
    found = _findings(tmp_path, source, with_yolo)
    assert [(c, line) for c, line, _ in found] == [("LT102", 3)]
    assert found[0][2].endswith("did you mean `iou_mode`? (checked against MMYOLO's `IoULoss`)")


def test_a_bare_mmdetection_name_in_another_projects_scope_fails_to_build(tmp_path: Path, with_yolo: Schema) -> None:
    source = "default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss')))\n"
    found = check_config(_loaded(tmp_path, source), with_yolo, Settings())
    assert [(d.code, d.fix) for d in found] == [("LT101", "type='mmdet.FocalLoss'")]
    assert found[0].message == (
        "`FocalLoss` is not in MMYOLO's registry (default_scope='mmyolo'), so building the model fails "
        "with a KeyError; MMDetection's FocalLoss is `mmdet.FocalLoss`"
    )
    typo = "default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_bbox=dict(type='IoULos')))\n"
    assert [d.fix for d in check_config(_loaded(tmp_path, typo), with_yolo, Settings())] == ["type='IoULoss'"]


def _loaded(tmp_path: Path, source: str) -> LoadedConfig:
    cfg = tmp_path / "cfg.py"
    cfg.write_text(source, encoding="utf-8")
    return LoadedConfig(Resolver().resolve(str(cfg)))


def test_explain_says_a_loss_is_not_checked_and_shows_no_mmdetection_defaults(tmp_path: Path) -> None:
    source = (
        "default_scope = 'mmpose'\n"
        "model = dict(head=dict(type='RTMCCHead', loss=dict(type='SmoothL1Loss', use_target_weight=True)))\n"
    )
    report = explain(_loaded(tmp_path, source), load_schema())
    (loss,) = report.losses
    assert [p.name for p in loss.params] == ["use_target_weight"]  # no MMDetection defaults mixed in
    assert loss.sampler is None  # MMDetection's implicit PseudoSampler is not MMPose's
    assert loss.note == (
        "not checked: `SmoothL1Loss` is looked up in MMPose's registry (default_scope='mmpose'), "
        "which losstune has no schema for"
    )
    mmdet = explain(
        _loaded(tmp_path, "model = dict(head=dict(type='RetinaHead', loss=dict(type='SmoothL1Loss')))\n"), load_schema()
    )
    assert mmdet.losses[0].note is None and {p.name for p in mmdet.losses[0].params} >= {"beta", "loss_weight"}
    assert mmdet.losses[0].sampler is not None and mmdet.losses[0].sampler.type == "PseudoSampler"


def test_the_steps_of_another_projects_loss_are_not_evaluated(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from losstune.engine.session import evaluate_config
    from losstune.engine.trace import UnsupportedLoss

    source = "default_scope = 'mmpose'\nmodel = dict(head=dict(loss=dict(type='SmoothL1Loss')))\n"
    with pytest.raises(UnsupportedLoss, match="evaluates MMDetection's losses only"):
        evaluate_config(_loaded(tmp_path, source), "model.head.loss")


def test_the_unchecked_note_is_off_by_default_and_selected_by_its_full_code(tmp_path: Path) -> None:
    source = (
        "default_scope = 'mmpose'\n"
        "model = dict(head=dict(loss=dict(type='KeypointMSELoss'),\n"
        "                       loss_x=dict(type='mmdet.FocalLoss', gama=2.0)))\n"
    )
    codes = {sel: [c for c, _, _ in _findings(tmp_path, source, load_schema(), sel)] for sel in [(), ("LT",), ("LT1",)]}
    assert codes == {(): ["LT102"], ("LT",): ["LT102"], ("LT1",): ["LT102"]}
    assert [c for c, _, _ in _findings(tmp_path, source, load_schema(), ("LT", "LT116"))] == ["LT102", "LT116"]

"""The schemas shipped for the projects built on MMDetection (MMYOLO, MMRotate, MMTracking 0.x in
MMDetection 2.x's registry), and what the rules about heads know of their heads."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from losstune.config import LoadedConfig
from losstune.lint.run import check_config
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.model import Diagnostic
from losstune.schema.registry import Entry, Schema, load_schema
from tests.conftest import PROJECTS

# The released packages the schemas were read from, where this machine has them
# (`python benchmarks/fetch_projects.py` puts them in .projects).
SITE3 = PROJECTS / "site3"
SITE2 = SITE3.parent / "site2"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


def _entry(schema: Schema, registry: str, name: str) -> Entry:
    entry = schema.registries.get(registry, {}).get(name)
    assert entry is not None, f"{registry}.{name} is not in the shipped schema"
    return entry


def _lint(tmp_path: Path, source: str, schema: Schema, select: tuple[str, ...] = ()) -> list[Diagnostic]:
    cfg = tmp_path / "cfg.py"
    cfg.write_text(source, encoding="utf-8")
    return check_config(LoadedConfig(Resolver().resolve(str(cfg))), schema, Settings(select=select))


def _codes(found: list[Diagnostic]) -> list[tuple[str, int]]:
    return [(d.code, d.span.line if d.span else 0) for d in found]


# ---------------------------------------------------------------------------- contents


def test_the_projects_schemas_are_shipped_with_their_registries(schema: Schema) -> None:
    assert set(schema.registries["mmyolo"]) == {"IoULoss", "OksLoss"}
    assert set(schema.registries["mmrotate"]) == {
        "RotatedIoULoss",
        "GDLoss",
        "GDLoss_v1",
        "KFLoss",
        "ConvexGIoULoss",
        "BCConvexGIoULoss",
        "SpatialBorderLoss",
        "SmoothFocalLoss",
        "H2RBoxConsistencyLoss",
    }
    assert _entry(schema, "mmyolo", "IoULoss").source == "MMYOLO 0.6.0"
    assert _entry(schema, "mmrotate", "GDLoss").source == "MMRotate 1.0.0rc1"
    assert all(e.versions == (3,) for scope in ("mmyolo", "mmrotate") for e in schema.registries[scope].values())


def test_spot_checks_of_defaults_and_choices_against_the_released_code(schema: Schema) -> None:
    iou = _entry(schema, "mmyolo", "IoULoss").params
    assert {k: p.default for k, p in iou.items()} == {
        "iou_mode": "ciou",
        "bbox_format": "xywh",
        "eps": 1e-7,
        "reduction": "mean",
        "loss_weight": 1.0,
        "return_iou": True,
    }
    assert iou["iou_mode"].choices == ("ciou", "siou", "giou")  # the assert in __init__
    gd = _entry(schema, "mmrotate", "GDLoss").params
    assert gd["loss_type"].required and gd["loss_type"].choices == ("gwd", "kld", "jd", "kld_symmax", "kld_symmin")
    assert gd["fun"].choices == ("log1p", "none", "sqrt") and gd["tau"].default == 0.0
    assert gd["representation"].choices == ("xy_wh_r", "xy_stddev_pearson")  # the BAG_PREP keys
    v1 = _entry(schema, "mmrotate", "GDLoss_v1").params
    assert v1["fun"].default == "sqrt" and v1["fun"].choices == ("log1p", "sqrt", "")
    assert _entry(schema, "mmrotate", "RotatedIoULoss").params["mode"].choices == ("linear", "square", "log")
    assert _entry(schema, "mmrotate", "KFLoss").accepts_unknown_keys  # **kwargs taken and dropped
    assert not _entry(schema, "mmrotate", "GDLoss").accepts_unknown_keys  # **kwargs reach the loss function


def _init_defaults(path: Path, cls: str) -> dict[str, Any]:
    """The keyword parameters of ``cls.__init__`` in ``path`` and their defaults (``...`` for none)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = item.args.args[1:]
                    defaults = [...] * (len(args) - len(item.args.defaults)) + list(item.args.defaults)
                    out: dict[str, Any] = {}
                    for arg, default in zip(args, defaults, strict=True):
                        if default is ...:
                            out[arg.arg] = ...
                            continue
                        try:
                            out[arg.arg] = ast.literal_eval(default)
                        except ValueError:  # dict(type=...) defaults
                            out[arg.arg] = "<call>"
                    return out
    raise AssertionError(f"no class {cls} in {path}")


PROJECT_LOSSES = [
    ("mmyolo", SITE3 / "mmyolo" / "models" / "losses", ("IoULoss", "iou_loss.py"), ("OksLoss", "oks_loss.py")),
    (
        "mmrotate",
        SITE3 / "mmrotate" / "models" / "losses",
        ("RotatedIoULoss", "rotated_iou_loss.py"),
        ("GDLoss", "gaussian_dist_loss.py"),
        ("GDLoss_v1", "gaussian_dist_loss_v1.py"),
        ("KFLoss", "kf_iou_loss.py"),
        ("ConvexGIoULoss", "convex_giou_loss.py"),
        ("BCConvexGIoULoss", "convex_giou_loss.py"),
        ("SpatialBorderLoss", "spatial_border_loss.py"),
        ("SmoothFocalLoss", "smooth_focal_loss.py"),
        ("H2RBoxConsistencyLoss", "h2rbox_consistency_loss.py"),
    ),
    (
        "mmdet",
        SITE2 / "mmtrack" / "models" / "losses",
        ("L2Loss", "l2_loss.py"),
        ("MultiPosCrossEntropyLoss", "multipos_cross_entropy_loss.py"),
        ("TripletLoss", "triplet_loss.py"),
    ),
]


@pytest.mark.parametrize(("registry", "folder", "classes"), [(r, f, c) for r, f, *c in PROJECT_LOSSES])
def test_every_constructor_parameter_and_default_is_the_released_codes(
    schema: Schema, registry: str, folder: Path, classes: list[tuple[str, str]]
) -> None:
    if not folder.is_dir():
        pytest.skip(f"needs the released package: run `python benchmarks/fetch_projects.py` ({folder} is missing)")
    version = 2 if "site2" in str(folder) else 3
    for cls, module in classes:
        code = _init_defaults(folder / module, cls)
        params = _entry(schema, registry, cls).params_for(version)
        # **kwargs that reach the loss function are listed too (GDLoss's normalize and sqrt)
        assert set(code) <= set(params), (cls, set(code) - set(params))
        for name, default in code.items():
            spec = params[name]
            if default is ...:
                assert spec.required, (cls, name)
            elif default != "<call>":
                same_kind = isinstance(spec.default, bool) == isinstance(default, bool)
                assert spec.default == default and same_kind, (cls, name, spec.default, default)


def test_every_loss_the_projects_register_is_in_their_schema(schema: Schema) -> None:
    for project in ("mmyolo", "mmrotate"):
        root = SITE3 / project
        if not root.is_dir():
            pytest.skip(f"needs the released package: run `python benchmarks/fetch_projects.py` ({root} is missing)")
        registered = set()
        for path in root.rglob("*.py"):
            if ".mim" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "register_module"
                    for d in node.decorator_list
                ):
                    if node.name.endswith(("Loss", "Loss_v1", "Sampler")):
                        registered.add(node.name)
        assert registered == set(schema.registries[project]), project


# ---------------------------------------------------------------------------- lint under the scopes


def test_a_typo_in_mmyolos_iou_loss_is_reported_at_its_line(tmp_path: Path, schema: Schema) -> None:
    source = (
        "default_scope = 'mmyolo'\n"
        "model = dict(bbox_head=dict(type='YOLOv5Head',\n"
        "    loss_bbox=dict(type='IoULoss', iou_mode='ciou', bbox_format='xywh',\n"
        "                   iou_mdoe='giou', return_iou=True)))\n"
    )
    found = _lint(tmp_path, source, schema)
    assert _codes(found) == [("LT102", 4)]
    assert found[0].fix == "rename it to `iou_mode`"
    bad_mode = (
        "default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_bbox=dict(type='IoULoss', iou_mode='diou')))\n"
    )
    assert [d.key for d in _lint(tmp_path, bad_mode, schema)] == ["model.bbox_head.loss_bbox.iou_mode"]


def test_a_bare_mmdetection_loss_under_mmyolo_is_a_keyerror_with_the_prefix_as_fix(
    tmp_path: Path, schema: Schema
) -> None:
    source = "default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss')))\n"
    found = _lint(tmp_path, source, schema)
    assert [(d.code, d.fix) for d in found] == [("LT101", "type='mmdet.FocalLoss'")]
    fine = "default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_cls=dict(type='mmdet.FocalLoss')))\n"
    assert _lint(tmp_path, fine, schema) == []


def test_mmrotate_losses_are_checked_in_their_scope(tmp_path: Path, schema: Schema) -> None:
    source = (
        "default_scope = 'mmrotate'\n"
        "model = dict(bbox_head=dict(type='RotatedFCOSHead',\n"
        "    loss_bbox=dict(type='GDLoss', loss_type='kld', fun='log1p', tau=1.0, sqrt=False),\n"
        "    loss_angle=dict(type='SmoothFocalLoss', gamma=2.0, alpha=1.5),\n"
        "    loss_cls=dict(type='mmdet.FocalLoss', use_sigmoid=True)))\n"
    )
    assert _codes(_lint(tmp_path, source, schema)) == [("LT104", 4)]
    missing = "default_scope = 'mmrotate'\nmodel = dict(bbox_head=dict(loss_bbox=dict(type='GDLoss', fun='ln')))\n"
    assert sorted(d.key for d in _lint(tmp_path, missing, schema)) == [
        "model.bbox_head.loss_bbox",
        "model.bbox_head.loss_bbox.fun",
    ]


def test_mmtracking_0x_losses_are_known_in_mmdetection_2x(tmp_path: Path, schema: Schema) -> None:
    source = (
        "data = dict()\n"
        "model = dict(\n"
        "    reid=dict(head=dict(loss=dict(type='TripletLoss', margin=0.3, loss_weight=1.0),\n"
        "                        loss_pairwise=dict(type='TripletLoss', margn=0.3))),\n"
        "    track_head=dict(embed_head=dict(\n"
        "        loss_track=dict(type='MultiPosCrossEntropyLoss', loss_weight=0.25),\n"
        "        loss_track_aux=dict(type='L2Loss', neg_pos_ub=3, pos_margin=0, neg_margin=0.1,\n"
        "                            hard_mining=True, loss_weight=1.0))))\n"
    )
    found = _lint(tmp_path, source, schema)
    assert _codes(found) == [("LT102", 4)]
    assert "did you mean `margin`" in found[0].message
    triplet = _entry(schema, "mmdet", "TripletLoss")
    assert "MMTracking" in triplet.summary and triplet.versions == (2, 3)
    assert (triplet.project_in(2), triplet.project_in(3)) == ("MMTracking 0.14.0", "MMDetection")


def test_mmrotate_0x_samples_with_its_own_sampler_in_mmdetection_2x(tmp_path: Path, schema: Schema) -> None:
    source = (
        "data = dict()\n"
        "model = dict(train_cfg=dict(rcnn=dict(sampler=dict(type='RRandomSampler', num=512, pos_fraction=0.25,\n"
        "                                                   neg_pos_ub=-1, add_gt_as_proposals=True))))\n"
    )
    assert _lint(tmp_path, source, schema) == []
    in_3x = _lint(tmp_path, source.replace("data = dict()\n", ""), schema)
    assert _codes(in_3x) == [("LT101", 1)]  # the type is the error; its parameters are not reported too
    assert "`RRandomSampler` does not exist in MMDetection 3.x (it exists only in 2.x)" in in_3x[0].message


# ---------------------------------------------------------------------------- head rules by registry


def test_avg_factor_heads_of_mmyolo_are_checked_loss_by_loss(tmp_path: Path, schema: Schema) -> None:
    def lint(head: str, key: str, loss: str) -> list[tuple[str, int]]:
        source = (
            "default_scope = 'mmyolo'\n"
            f"model = dict(bbox_head=dict(type='{head}',\n"
            f"    {key}=dict(type='{loss}', reduction='sum')))\n"
        )
        return _codes(_lint(tmp_path, source, schema))

    assert lint("YOLOv6Head", "loss_bbox", "IoULoss") == [("LT110", 3)]
    assert lint("YOLOv6Head", "loss_cls", "mmdet.VarifocalLoss") == []  # divided by the head itself
    assert lint("YOLOv8Head", "loss_bbox", "IoULoss") == []  # YOLOv8's own default
    assert lint("YOLOv8Head", "loss_dfl", "mmdet.DistributionFocalLoss") == [("LT110", 3)]
    assert lint("PPYOLOEHead", "loss_dfl", "mmdet.DistributionFocalLoss") == [("LT110", 3)]
    assert lint("RTMDetHead", "loss_cls", "mmdet.QualityFocalLoss") == [("LT110", 3)]
    assert lint("YOLOXHead", "loss_bbox", "IoULoss") == []  # normalises by itself
    assert lint("mmdet.YOLOXHead", "loss_bbox", "mmdet.IoULoss") == []
    assert lint("mmdet.RetinaHead", "loss_bbox", "mmdet.L1Loss") == [("LT110", 3)]  # MMDetection's head


def test_mmrotate_heads_that_regress_deltas_want_decoded_boxes_for_box_losses(tmp_path: Path, schema: Schema) -> None:
    def lint(head: str, loss: str, extra: str = "") -> list[tuple[str, int]]:
        source = (
            "default_scope = 'mmrotate'\n"
            f"model = dict(bbox_head=dict(type='{head}',{extra}\n"
            f"    loss_bbox=dict(type={loss!r}, loss_type='kld')))\n"
        )
        return _codes(_lint(tmp_path, source, schema))

    assert lint("RotatedRetinaHead", "GDLoss") == [("LT112", 3)]
    assert lint("RotatedRetinaHead", "GDLoss", " reg_decoded_bbox=True,") == []
    assert lint("RotatedFCOSHead", "GDLoss") == []  # decodes before its loss
    assert lint("RotatedRetinaHead", "KFLoss")[0] == ("LT102", 3)  # KFLoss is for deltas; loss_type is GDLoss's
    assert lint("R3RefineHead", "GDLoss_v1") == [("LT112", 3)]


def test_mmrotate_anchor_heads_sample_and_convex_losses_ignore_avg_factor(tmp_path: Path, schema: Schema) -> None:
    sampled = (
        "default_scope = 'mmrotate'\n"
        "model = dict(bbox_head=dict(type='RotatedRetinaHead', loss_cls=dict(type='mmdet.FocalLoss')),\n"
        "             train_cfg=dict(sampler=dict(type='mmdet.RandomSampler', num=256, pos_fraction=0.5)))\n"
    )
    assert _codes(_lint(tmp_path, sampled, schema)) == [("LT111", 3)]
    assert _lint(tmp_path, sampled.replace("RotatedRetinaHead", "RotatedFCOSHead"), schema) == []
    convex = (
        "default_scope = 'mmrotate'\n"
        "model = dict(bbox_head=dict(type='RotatedRepPointsHead',\n"
        "    loss_bbox_init=dict(type='ConvexGIoULoss', reduction='sum'),\n"
        "    loss_bbox_refine=dict(type='RotatedIoULoss', reduction='sum')))\n"
    )
    assert _codes(_lint(tmp_path, convex, schema)) == [("LT110", 4)]


def test_a_head_of_a_project_without_head_tables_keeps_the_head_rules_silent(tmp_path: Path, schema: Schema) -> None:
    source = (
        "default_scope = 'mmyolo'\n"
        "model = dict(bbox_head=dict(type='RetinaHead', reg_decoded_bbox=False,\n"
        "    loss_bbox=dict(type='mmdet.GIoULoss', reduction='sum')))\n"
    )
    assert _lint(tmp_path, source, schema) == []  # MMYOLO registers no RetinaHead: nothing is known of it


def test_explain_shows_a_project_loss_with_its_meanings_and_says_its_steps_are_not_evaluated(
    tmp_path: Path, schema: Schema
) -> None:
    pytest.importorskip("torch")
    from losstune.render.explain import render_text
    from losstune.report import explain

    cfg = tmp_path / "cfg.py"
    cfg.write_text(
        "default_scope = 'mmrotate'\n"
        "model = dict(bbox_head=dict(type='RotatedRetinaHead', reg_decoded_bbox=True,\n"
        "    loss_bbox=dict(type='GDLoss', loss_type='kld', tau=1.0)))\n",
        encoding="utf-8",
    )
    report = explain(LoadedConfig(Resolver().resolve(str(cfg))), schema, steps=True)
    (loss,) = report.losses
    shown = {p.name: p for p in loss.params}
    assert shown["fun"].value == "log1p" and shown["fun"].origin is None  # MMRotate's default
    assert shown["representation"].value == "xy_wh_r"
    text = render_text(report, width=100)
    lines = text.splitlines()
    # the meanings show even where the long paths leave no room for their column beside them
    assert len(str(cfg)) > 40 and "Function f applied to the distance" in text
    start = next(i for i, line in enumerate(lines) if line.startswith("  steps: "))
    assert lines[start].startswith("  steps: not evaluated: `GDLoss` is looked up in MMRotate's registry")
    assert lines[start + 1].startswith(" " * 9) and "MMDetection's losses only" in " ".join(lines[start:])


def test_schema_shows_a_project_loss_by_its_prefix_and_points_to_it_from_its_bare_name() -> None:
    from typer.testing import CliRunner

    from losstune.cli.app import app

    runner = CliRunner()
    shown = runner.invoke(app, ["schema", "mmrotate.GDLoss"])
    assert shown.exit_code == 0 and "MMRotate 1.0.0rc1, registry scope mmrotate" in shown.output
    bare = runner.invoke(app, ["schema", "GDLoss"])
    assert bare.exit_code == 2
    assert "`GDLoss` is not a known loss or sampler; did you mean `mmrotate.GDLoss`?" in bare.output
    both = runner.invoke(app, ["schema", "RotatedIoULos"])
    assert both.exit_code == 2 and "did you mean `mmrotate.RotatedIoULoss`?" in both.output

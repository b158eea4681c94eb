"""`--through-head` measures the feature maps MMDetection's heads receive on the synthetic batch and
says, in one line and a JSON field, when they are far beyond a normalised network's: a backbone
whose BatchNorm layers stay in eval mode with their initial statistics (HRNet, Res2Net) blows them
up, and the `--cfg-options` it suggests brings them back."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from tests.conftest import EXAMPLES, REPO, invoke  # noqa: E402
from tests.golden import assert_golden  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

HRNET = CONFIGS / "hrnet" / "fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py"
RETINANET = CONFIGS / "retinanet" / "retinanet_r50_fpn_1x_coco.py"
NORMALISE = "model.backbone.norm_eval=False"


def _json(*args: str) -> dict:
    code, out = invoke("eval", *args, "--through-head", "--image-size", "128", "--format", "json", cwd=REPO)
    assert code == 0, out
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


@needs_mmdet
@needs_configs
def test_hrnet_maps_are_said_to_blow_up_and_the_suggested_option_normalises_them() -> None:
    from losstune.engine.realhead.magnitude import LIMIT

    features = _json(str(HRNET), "--loss", "loss_centerness")["features"]
    assert features["blown_up"] is True and features["finest"] == 0 and len(features["mean_abs"]) == 5
    assert features["finest_mean_abs"] == features["mean_abs"][0] > 1e6 * LIMIT
    assert features["frozen_norms"] > 100 and "norm_eval=True" in features["why"]
    assert features["options"] == f"--cfg-options {NORMALISE}" and features["options"] in features["remedy"]
    assert features["normalised_mean_abs"] < 10

    # the suggestion, taken: the batch's own statistics normalise the maps, and nothing is said
    normalised = _json(str(HRNET), "--loss", "loss_centerness", "--cfg-options", NORMALISE)["features"]
    assert normalised["blown_up"] is False
    assert normalised["finest_mean_abs"] == pytest.approx(features["normalised_mean_abs"], rel=1e-4)
    assert normalised["frozen_norms"] == 0 and normalised["why"] is None and normalised["remedy"] is None
    code, out = invoke("eval", str(HRNET), "--loss", "loss_centerness", "--through-head", "--image-size", "128",
                       "--cfg-options", NORMALISE, cwd=REPO)  # fmt: skip
    assert code == 0 and "BLOWN UP" not in out


@needs_mmdet
@needs_configs
def test_the_text_output_of_blown_up_maps_is_the_golden_file() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import run_head
    from losstune.render.headrun import render_text

    run = run_head(losstune.load(HRNET), BatchSpec(size=128))
    out = render_text(run, "model.bbox_head.loss_centerness", width=100)
    assert_golden("eval/through_head.hrnet_fcos.loss_centerness.100.txt", out)


@needs_mmdet
@needs_configs
def test_a_res2net_backbone_swapped_in_blows_up_and_its_norm_eval_is_accepted_through_kwargs() -> None:
    """Res2Net takes ``norm_eval`` through ``**kwargs`` handed on to ResNet; its maps at depth 50 are
    far smaller than HRNet's but its classification term is already a thousand times a trained one's."""
    swap = ["--cfg-options", "model.backbone.type=Res2Net"]
    data = _json(str(RETINANET), "--loss", "loss_cls", *swap)
    assert data["features"]["blown_up"] is True
    assert data["features"]["options"] == f"--cfg-options {NORMALISE}"
    assert next(t["value"] for t in data["losses"] if t["name"] == "loss_cls") > 100
    taken = _json(str(RETINANET), "--loss", "loss_cls", *swap, "--cfg-options", NORMALISE)
    assert taken["features"]["blown_up"] is False
    assert taken["features"]["finest_mean_abs"] == pytest.approx(data["features"]["normalised_mean_abs"], rel=1e-4)


@needs_mmdet
def test_a_resnet_detector_with_norm_eval_is_not_said_to_blow_up() -> None:
    """ResNet's BatchNorm layers stay in eval mode too, but its zero_init_residual keeps the maps bounded."""
    data = _json(str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py"), "--loss", "loss_cls")
    features = data["features"]
    assert features["frozen_norms"] > 0 and features["blown_up"] is False and features["finest_mean_abs"] < 1
    assert features["why"] is None and features["remedy"] is None and features["options"] is None
    code, out = invoke(
        "eval", str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py"), "--loss", "loss_cls", "--through-head", cwd=REPO
    )
    assert code == 0 and "BLOWN UP" not in out and "numbers: MMDetection" in out
    # the images kept for a rerun of extract_feat are let go once the run is measured
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import run_head

    run = run_head(losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py"), BatchSpec(size=128))
    assert not run.features.blown_up and run.features.inputs is None


@needs_mmdet
@needs_configs
def test_detectors_rfp_needs_the_norm_eval_of_its_recursive_backbone_too() -> None:
    """DetectoRS' RFP builds its recursive backbones (``neck.rfp_modules``) from ``model.neck.rfp_backbone``,
    whose norm_eval=True keeps them unnormalised too; the two-stage heads run on the comparison's pure ops."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.magnitude import LIMIT
    from losstune.engine.realhead.run import run_head
    from losstune.render.headrun import render_terms

    run = run_head(
        losstune.load(CONFIGS / "detectors" / "cascade-rcnn_r50-rfp_1x_coco.py"), BatchSpec(size=128), pure=True
    )
    f = run.features
    assert f.blown_up and f.finest_mean_abs is not None and f.finest_mean_abs > 1e4 * LIMIT
    assert f.norm_eval == ["model.backbone.norm_eval", "model.neck.rfp_backbone.norm_eval"]
    assert f.normalised is not None and f.normalised < LIMIT
    assert (
        f.options
        == "--cfg-options model.backbone.norm_eval=False --cfg-options model.neck.rfp_backbone.norm_eval=False"
    )
    assert f.options in render_terms(run)  # unwrapped

    # each key alone leaves the other backbone unnormalised: the maps stay blown up
    from losstune.loader.cfgoptions import parse_options
    from losstune.loader.resolve import Resolver

    taken = losstune.load(
        CONFIGS / "detectors" / "cascade-rcnn_r50-rfp_1x_coco.py",
        resolver=Resolver(options=parse_options(["model.backbone.norm_eval=False"])),
    )
    assert run_head(taken, BatchSpec(size=128), pure=True).features.blown_up

"""FreeAnchorRetinaHead's and AutoAssignHead's own terms in ``eval`` and ``explain`` (losstune's
head model, losstune.engine.ownmodel): ``loss_bbox`` evaluated on the model's image as the head
calls it (each box's bag; every point and box), the term it enters made of its element-wise result,
the head's other terms beside it, each named as the log names it; pinned whole by golden files
(LOSSTUNE_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_autoassign as aa  # noqa: E402
from losstune.engine import heads_freeanchor as fa  # noqa: E402
from losstune.engine.headmodel import DENSE_PRIORS, NUM_GTS  # noqa: E402
from losstune.engine.heads_own import entered, not_modelled, term_hint  # noqa: E402
from losstune.engine.inputs import InputError  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config  # noqa: E402
from tests.conftest import invoke  # noqa: E402
from tests.golden import assert_golden  # noqa: E402

SMOOTH_L1 = {"type": "SmoothL1Loss", "beta": 0.11, "loss_weight": 0.75}
GIOU = {"type": "GIoULoss", "loss_weight": 5.0}
CONFIGS = {
    "freeanchor": """
        model = dict(type='RetinaNet', bbox_head=dict(type='FreeAnchorRetinaHead', num_classes=80,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=0.75)))
        """,
    "autoassign": """
        model = dict(type='AutoAssign', bbox_head=dict(type='AutoAssignHead', num_classes=80,
            strides=[8, 16, 32, 64, 128], loss_bbox=dict(type='GIoULoss', loss_weight=5.0)))
        """,
}
STEPS = ["sampling", "kernel", "weight", "reduction", "loss_weight", "head"]


def _eval(write: Callable[..., Path], name: str, key: str = "loss_bbox", **kw: object) -> EvalResult:
    return evaluate_config(losstune.load(write(f"{name}.py", CONFIGS[name])), key, **kw)  # type: ignore[arg-type]


def test_the_heads_losses_are_told_apart_by_the_term_they_enter() -> None:
    assert entered("FreeAnchorRetinaHead", "loss_bbox") == "positive_bag_loss"
    assert entered("AutoAssignHead", "loss_bbox") == "loss_pos"
    assert entered("AutoAssignHead", "loss_cls") is None and entered("RetinaHead", "loss_bbox") is None
    assert not_modelled("FreeAnchorRetinaHead", "loss_bbox") is None
    never = not_modelled("AutoAssignHead", "loss_centerness")
    assert never is not None and "loss_centerness is never called" in never
    assert not_modelled("RetinaHead", "loss_cls") is None
    hint = term_hint("FreeAnchorRetinaHead", "model.bbox_head", "negative_bag_loss")
    assert hint is not None and "no loss module enters it" in hint and "--loss model.bbox_head.loss_bbox" in hint
    assert term_hint("FreeAnchorRetinaHead", "model.bbox_head", "loss_bbox") is None


def test_free_anchor_loss_bbox_is_evaluated_on_each_boxs_bag_and_enters_positive_bag_loss(
    write: Callable[..., Path],
) -> None:
    r = _eval(write, "freeanchor", seed=2)
    assert [s.name for s in r.trace.steps] == STEPS
    assert r.log_name == "positive_bag_loss" and r.log_names == ["positive_bag_loss"]
    assert (
        r.family == "FreeAnchorRetinaHead"
        and r.inputs == f"synthetic, seed 2, {DENSE_PRIORS} anchors, 8 boxes, 80 classes"
    )
    # the module: the bags' deltas against their encoded boxes, element-wise (reduction_override='none')
    p = fa.bag_params({"bbox_coder": {"target_stds": [0.1, 0.1, 0.2, 0.2]}})
    batch = fa.model_batch(DENSE_PRIORS, NUM_GTS, 80, 2)
    _, pred, target = fa.bags(batch.deltas[0], batch.anchors, batch.boxes, p)
    assert torch.equal(r.args[0], pred) and torch.equal(r.args[1], target) and pred.shape == (8, 50, 4)
    assert r.kwargs == {"reduction_override": "none"} and r.trace.loss.shape == (8, 50, 4)
    # the head's terms are those of the model's bags on the same image, divided as the head divides
    t = batch.terms(fa.box_loss_of(SMOOTH_L1), p)
    terms = {x.name: x for x in r.own_terms}
    assert list(terms) == ["positive_bag_loss", "negative_bag_loss"]
    assert float(r.logged) == pytest.approx(t.positive, rel=1e-6) == pytest.approx(t.positive_sum / 8, rel=1e-6)
    assert terms["negative_bag_loss"].value == pytest.approx(t.negative_sum / (8 * 50), rel=1e-6)
    assert terms["positive_bag_loss"].loss == "loss_bbox" and terms["negative_bag_loss"].loss is None
    assert "÷ max(1, boxes × pre_anchor_topk)" in terms["negative_bag_loss"].how
    assert "no loss module enters it" in terms["negative_bag_loss"].how


def test_free_anchor_needs_as_many_anchors_as_a_bag_has(write: Callable[..., Path]) -> None:
    assert _eval(write, "freeanchor", num_priors=50).args[0].shape == (8, 50, 4)
    with pytest.raises(InputError, match=r"pre_anchor_topk = 50 .*--num-priors 50 or more"):
        _eval(write, "freeanchor", num_priors=49)


def test_auto_assign_loss_bbox_is_evaluated_on_every_point_and_box_and_enters_loss_pos(
    write: Callable[..., Path],
) -> None:
    r = _eval(write, "autoassign", num_priors=500)
    assert [s.name for s in r.trace.steps] == STEPS and r.log_name == "loss_pos"
    assert r.inputs == "synthetic, seed 0, 500 points, 8 boxes, 80 classes"
    batch = aa.model_batch(500, NUM_GTS, 80, (8, 16, 32, 64, 128), 0)
    pred, target = aa.box_pairs(batch.points, batch.distances[0], batch.boxes)
    assert torch.equal(r.args[0], pred) and torch.equal(r.args[1], target) and pred.shape == (500 * 8, 4)
    t = batch.terms(aa.box_loss_of(GIOU), aa.AutoParams())
    terms = {x.name: x.value for x in r.own_terms}
    assert list(terms) == ["loss_pos", "loss_neg", "loss_center"]
    assert float(r.logged) == pytest.approx(t.pos_sum / 8, rel=1e-6)
    assert terms["loss_neg"] == pytest.approx(t.neg_sum / max(t.prior_sum, 1), rel=1e-6)
    assert terms["loss_center"] == pytest.approx(t.center_sum, rel=1e-6)  # the mean over 1 image


def test_a_term_of_the_heads_own_code_asked_for_as_a_loss_says_which_loss_gives_it(
    write: Callable[..., Path],
) -> None:
    for key in ("negative_bag_loss", "bbox_head.negative_bag_loss", "model.bbox_head.positive_bag_loss"):
        with pytest.raises(InputError, match=r"FreeAnchorRetinaHead's own code at model\.bbox_head"):
            _eval(write, "freeanchor", key)
    with pytest.raises(InputError, match=r"loss_center is a term .* `--loss model\.bbox_head\.loss_bbox`"):
        _eval(write, "autoassign", "loss_center")
    with pytest.raises(InputError, match=r"is not logged as loss_neg; it enters loss_pos"):
        _eval(write, "autoassign", term="loss_neg")


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_eval_text_of_a_heads_own_terms_is_the_golden_file(write: Callable[..., Path], name: str, width: int) -> None:
    from losstune.render.eval import render_text

    out = render_text(_eval(write, name, num_priors=500, check=False), width=width)
    assert max(len(line) for line in out.splitlines()) <= width
    assert_golden(f"eval/{name}.own.loss_bbox.{width}.txt", out)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_eval_json_carries_every_term_of_the_head_with_its_log_name_and_value(
    write: Callable[..., Path], name: str
) -> None:
    path = write(f"{name}.py", CONFIGS[name])
    code, out = invoke(
        "eval",
        path.name,
        "--loss",
        "loss_bbox",
        "--num-priors",
        "500",
        "--no-check",
        "--format",
        "json",
        cwd=path.parent,
    )
    assert code == 0, out
    data = json.loads(out)
    r = _eval(write, name, num_priors=500)
    assert data["log"] == {r.log_name: pytest.approx(float(r.logged))}
    assert [(t["name"], t["value"], t["loss"]) for t in data["head_terms"]] == [
        (t.name, pytest.approx(t.value), t.loss) for t in r.own_terms
    ]
    assert data["head"] == r.family and [s["name"] for s in data["steps"]] == STEPS


@pytest.mark.parametrize("name", list(CONFIGS))
def test_explain_gives_every_term_of_the_heads_own_code(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from losstune.render.explain import render_text
    from losstune.report import explain
    from losstune.schema.registry import load_schema

    path = write(f"{name}.py", CONFIGS[name])
    monkeypatch.chdir(path.parent)
    monkeypatch.delenv("COLUMNS", raising=False)
    report = explain(losstune.load(path.name), load_schema(), steps=True)
    out = render_text(report, width=100)
    assert max(len(line) for line in out.splitlines()) <= 100
    assert_golden(f"explain/{name}.own.steps.100.txt", out)
    code, text = invoke("explain", path.name, "--format", "json", cwd=path.parent)
    assert code == 0, text
    data = json.loads(text)
    r = evaluate_config(losstune.load(path.name), "loss_bbox")
    expected = [
        (t.name, pytest.approx(t.value), "model.bbox_head.loss_bbox" if t.loss else "model.bbox_head", t.how)
        for t in r.own_terms
    ]
    assert [(t["name"], t["value"], t["key"], t["how"]) for t in data["terms"]] == expected
    assert data["total"] == pytest.approx(sum(t.value for t in r.own_terms))
    (loss,) = data["losses"]
    assert [s["name"] for s in loss["steps"]] == STEPS and loss["steps_note"] is None

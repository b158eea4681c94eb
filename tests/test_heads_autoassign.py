"""The model of AutoAssignHead's terms (losstune.engine.heads_autoassign) on its own: the
parameters read from the head's config, the center prior, the divisions, and a batch with no
ground-truth box."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from losstune.engine import heads_autoassign as aa  # noqa: E402

GIOU = {"type": "GIoULoss", "loss_weight": 5.0}


def test_params_are_the_heads_defaults_unless_the_config_sets_them() -> None:
    assert aa.auto_params({}) == aa.AutoParams()
    p = aa.auto_params({"force_topk": True, "topk": 5, "neg_loss_weight": 1.0})
    assert (p.pos_loss_weight, p.neg_loss_weight, p.center_loss_weight, p.force_topk, p.topk) == (
        0.25,
        1.0,
        0.75,
        True,
        5,
    )
    assert aa.strides_of({}) == (4, 8, 16, 32, 64) and aa.strides_of({"strides": [8, 16]}) == (8, 16)


def test_the_center_prior_is_1_at_the_centre_a_gaussian_in_strides_and_0_outside() -> None:
    box = torch.tensor([[0.0, 0.0, 32.0, 32.0]])
    points = torch.tensor([[16.0, 16.0], [24.0, 16.0], [40.0, 16.0]])
    strides = torch.tensor([8.0, 8.0, 8.0])
    inside = torch.tensor([[True], [True], [False]])
    prior, kept = aa.center_prior(points, strides, box, torch.tensor([0]), inside, aa.AutoParams())
    assert prior[0, 0] == pytest.approx(1.0) and prior[1, 0] == pytest.approx(float(torch.exp(torch.tensor(-0.5))))
    assert prior[2, 0] == 0.0 and torch.equal(kept, inside)
    # force_topk: a box with no point inside takes the topk points of highest prior
    none = torch.zeros(3, 1, dtype=torch.bool)
    _, forced = aa.center_prior(points, strides, box, torch.tensor([0]), none, aa.AutoParams(force_topk=True, topk=2))
    assert forced[:, 0].tolist() == [True, True, False]


def test_the_terms_divide_by_the_boxes_the_summed_prior_and_the_images() -> None:
    t = aa.model_terms(341, 8, 20, (8, 16, 32, 64, 128), aa.box_loss_of(GIOU), aa.AutoParams(), seed=0)
    assert (t.boxes, t.images, t.rows, t.width) == (8, 1, 341, 20) and t.prior_sum > 1
    assert t.loss_pos == pytest.approx(t.pos_sum / 8) and t.loss_neg == pytest.approx(t.neg_sum / t.prior_sum)
    assert t.loss_center == pytest.approx(t.center_sum) and t.neg_divisor == t.prior_sum


def test_with_no_box_the_positive_and_center_terms_are_0_and_the_negative_divided_by_1() -> None:
    points = torch.rand(30, 2) * 64
    logits, obj = torch.full((2, 30, 4), -2.0), torch.zeros(2, 30, 1)
    none = [torch.zeros(0, 4)] * 2
    t = aa.auto_terms(
        logits,
        obj,
        torch.ones(2, 30, 4),
        points,
        torch.full((30,), 8.0),
        none,
        [torch.zeros(0, dtype=torch.long)] * 2,
        aa.box_loss_of(GIOU),
        aa.AutoParams(),
    )
    q = torch.sigmoid(torch.tensor(-2.0)) * 0.5
    each = q**2 * -torch.log(1 - q)
    assert t.loss_pos == 0.0 and t.loss_center == 0.0 and t.neg_divisor == 1.0
    assert t.loss_neg == pytest.approx(0.75 * float(each) * 2 * 30 * 4, rel=1e-5)

"""The model of FreeAnchorRetinaHead's bag terms (losstune.engine.heads_freeanchor) on its own:
the parameters read from the head's config, the divisions, and a batch with no ground-truth box."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from losstune.engine import heads_freeanchor as fa  # noqa: E402

SMOOTH_L1 = {"type": "SmoothL1Loss", "beta": 0.11, "loss_weight": 0.75}


def test_params_are_the_heads_defaults_unless_the_config_sets_them() -> None:
    assert fa.bag_params({}) == fa.BagParams()
    p = fa.bag_params({"pre_anchor_topk": 30, "alpha": 0.25, "bbox_coder": {"target_stds": [0.1, 0.1, 0.2, 0.2]}})
    assert (p.pre_anchor_topk, p.bbox_thr, p.gamma, p.alpha) == (30, 0.6, 2.0, 0.25)
    assert p.stds == (0.1, 0.1, 0.2, 0.2) and p.means == (0.0,) * 4


def test_the_coder_decodes_what_it_encodes_and_a_box_overlaps_itself_wholly() -> None:
    p = fa.BagParams(stds=(0.1, 0.1, 0.2, 0.2))
    anchors = torch.tensor([[0.0, 0.0, 10.0, 20.0], [5.0, 5.0, 45.0, 25.0]])
    boxes = torch.tensor([[1.0, 2.0, 12.0, 18.0], [0.0, 10.0, 40.0, 30.0]])
    assert torch.allclose(fa.decode(anchors, fa.encode(anchors, boxes, p), p), boxes, atol=1e-5)
    iou = fa.overlaps(boxes, boxes)
    assert torch.allclose(iou.diagonal(), torch.ones(2)) and iou[0, 1] == pytest.approx(11 * 8 / (11 * 16 + 800 - 88))


def test_a_sure_bag_costs_nothing_and_a_negative_of_a_positive_anchor_neither() -> None:
    sure = fa.positive_bag(torch.ones(1, 4) * (1 - 1e-7), torch.ones(1, 4), alpha=0.5)
    assert float(sure) == pytest.approx(0.0, abs=1e-5)
    # a bag's mean-max leans to its best anchor: more than the plain mean of its probabilities
    probs = torch.tensor([[0.9, 0.1, 0.1, 0.1]])
    bag = fa.positive_bag(probs, torch.ones(1, 4), alpha=1.0)
    assert float(bag) < -torch.log(probs.mean()).item()
    assert float(fa.negative_bag(torch.full((1, 3), 0.5), torch.ones(1, 3), 2.0, 0.5).sum()) < 1e-20
    p = 0.3
    expected = 0.5 * p**2 * -torch.log(torch.tensor(1 - p))
    assert float(fa.negative_bag(torch.full((1,), p), torch.zeros(1), 2.0, 0.5)) == pytest.approx(float(expected))


def test_the_terms_divide_by_the_boxes_and_by_the_boxes_times_topk() -> None:
    p = fa.BagParams(pre_anchor_topk=10, stds=(0.1, 0.1, 0.2, 0.2))
    t = fa.model_terms(400, 8, 20, fa.box_loss_of(SMOOTH_L1), p, seed=0)
    assert (t.boxes, t.topk, t.rows, t.width) == (8, 10, 400, 20)
    assert t.positive_divisor == 8 and t.negative_divisor == 80
    assert t.positive == pytest.approx(t.positive_sum / 8) and t.negative == pytest.approx(t.negative_sum / 80)


def test_with_no_box_the_positive_term_is_0_and_the_negative_divided_by_1() -> None:
    p = fa.BagParams()
    logits = torch.full((2, 30, 4), -2.0)
    deltas = torch.zeros(2, 30, 4)
    anchors = [fa._boxes(30, fa.ANCHOR_SIDES, torch.Generator().manual_seed(0))] * 2
    none = [torch.zeros(0, 4)] * 2
    t = fa.bag_terms(
        logits, deltas, anchors, none, [torch.zeros(0, dtype=torch.long)] * 2, fa.box_loss_of(SMOOTH_L1), p
    )
    prob = torch.sigmoid(torch.tensor(-2.0))
    each = 0.5 * prob**2 * -torch.log(1 - prob)
    assert t.positive == 0.0 and t.negative_divisor == 1.0
    assert t.negative == pytest.approx(float(each) * 2 * 30 * 4, rel=1e-5)

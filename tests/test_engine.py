"""The engine against MMDetection 3.3.0 itself (its outputs recorded by tests/engine/make_cases.py),
and its steps adding up to the loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from losstune.engine import UnsupportedLoss, evaluate  # noqa: E402

CASES = json.loads((Path(__file__).parent / "engine" / "cases.json").read_text())["cases"]
CASES_2 = json.loads((Path(__file__).parent / "engine" / "cases_v2.json").read_text())["cases"]


def _decode(x: Any) -> Any:
    if isinstance(x, dict) and "tuple" in x:
        return tuple(_decode(v) for v in x["tuple"])
    if isinstance(x, dict) and "dict" in x:
        return {k: _decode(v) for k, v in x["dict"].items()}
    if isinstance(x, dict) and "tensor" in x:
        return torch.tensor(x["tensor"], dtype=getattr(torch, x["dtype"])).reshape(x["shape"])
    return x


def _run(case: dict[str, Any], mmdet_version: int = 3) -> Any:
    args = [_decode(a) for a in case["args"]]
    kwargs = {k: _decode(v) for k, v in case["kwargs"].items()}
    return evaluate(case["config"], *args, mmdet_version=mmdet_version, **kwargs)


ALL = [(3, c) for c in CASES] + [(2, c) for c in CASES_2]


@pytest.mark.parametrize(
    ("version", "case"), ALL, ids=[f"v{v}-{i}-{c['config']['type']}" for i, (v, c) in enumerate(ALL)]
)
def test_loss_equals_mmdetection(version: int, case: dict[str, Any]) -> None:
    """3.x cases recorded from MMDetection 3.3.0, 2.x cases from 2.28.2."""
    if "error" in case:
        with pytest.raises(Exception) as err:
            _run(case, version)
        assert type(err.value).__name__ == case["error"]
        return
    expected = _decode(case["expected"])
    loss = _run(case, version).loss
    if isinstance(expected, dict):  # SeesawLoss's two terms
        assert loss.keys() == expected.keys()
        pairs = [(loss[k], expected[k]) for k in expected]
    else:
        pairs = [(loss, expected)]
    for got, want in pairs:
        assert got.shape == want.shape
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-7)


def test_steps_add_up() -> None:
    checked = 0
    for case in CASES:
        if "error" in case or case["config"]["type"] == "SeesawLoss":
            continue
        trace = _run(case)
        names = [s.name for s in trace.steps]
        if names == ["weight"]:  # all weights zero: MMDetection's shortcut, one step
            continue
        assert names == ["kernel", "weight", "reduction", "loss_weight"], names
        _, _, reduced, final = (s.value for s in trace.steps)
        loss_weight = case["config"].get("loss_weight", 1.0)
        assert torch.equal(final, loss_weight * reduced)
        assert final is trace.loss
        checked += 1
    assert checked > 100


def test_every_step_is_described_with_its_numbers() -> None:
    trace = evaluate({"type": "FocalLoss", "gamma": 1.5, "alpha": 0.5}, torch.randn(4, 3), torch.tensor([0, 1, 3, 2]))
    assert trace.steps[0].description.startswith("FL = -α_t (1 - p_t)^γ log p_t, γ=1.5, α=0.5")
    summary = trace.steps[0].summary()
    assert summary["shape"] == [4, 3] and summary["min"] <= summary["mean"] <= summary["max"]


def test_unsupported_loss_says_so() -> None:
    with pytest.raises(UnsupportedLoss) as err:
        evaluate({"type": "EQLV2Loss"}, torch.randn(2, 3), torch.tensor([0, 1]))
    assert "cannot be evaluated by losstune yet" in str(err.value)


def test_seesaw_steps_add_up_per_term() -> None:
    checked = 0
    for case in CASES:
        if "error" in case or case["config"]["type"] != "SeesawLoss":
            continue
        trace = _run(case)
        terms: dict[str, list[Any]] = {}
        for step in trace.steps:
            term = step.description.split(":")[0] if step.name != "sum" else "sum"
            terms.setdefault(term, []).append(step)
        loss_weight = case["config"].get("loss_weight", 1.0)
        for term in ("classes", "objectness"):
            names = [s.name for s in terms[term]]
            if names == ["kernel"]:  # no positives: MMDetection's zero, without loss_weight
                assert float(terms[term][0].value) == 0.0
                continue
            assert names == ["kernel", "weight", "reduction", "loss_weight"], names
            assert torch.equal(terms[term][3].value, loss_weight * terms[term][2].value)
        finals = {t: terms[t][-1].value for t in ("classes", "objectness")}
        if isinstance(trace.loss, dict):
            assert trace.loss == {"loss_cls_objectness": finals["objectness"], "loss_cls_classes": finals["classes"]}
        else:
            assert torch.equal(trace.loss, finals["classes"] + finals["objectness"])
        checked += 1
    assert checked >= 12


def test_mmdetection_2_lacks_the_losses_added_in_3() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    with pytest.raises(UnsupportedLoss, match=r"does not exist in MMDetection 2\.x"):
        evaluate({"type": "EIoULoss"}, boxes, boxes, mmdet_version=2)
    assert float(evaluate({"type": "EIoULoss"}, boxes, boxes).loss) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="must be 2 or 3"):
        evaluate({"type": "L1Loss"}, boxes, boxes, mmdet_version=4)


def test_all_zero_weights_differ_between_versions() -> None:
    pred, target, weight = torch.ones(2, 4), torch.zeros(2, 4), torch.zeros(2, 4)
    v3 = evaluate({"type": "L1Loss", "loss_weight": 2.0}, pred, target, weight, reduction_override="none")
    v2 = evaluate(
        {"type": "L1Loss", "loss_weight": 2.0}, pred, target, weight, reduction_override="none", mmdet_version=2
    )
    assert v3.loss.shape == () and v2.loss.shape == (2, 4)  # 3.x's shortcut returns a scalar
    assert [s.name for s in v2.steps] == ["kernel", "weight", "reduction", "loss_weight"]


@pytest.mark.parametrize("version", [2, 3])
def test_one_class_weight_with_a_sigmoid_is_the_pos_weight_of_every_class(version: int) -> None:
    """MMDetection 2.28 and 3.3 pass class_weight to PyTorch as pos_weight: one number broadcasts."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(6, 3, generator=gen)
    label = torch.tensor([0, 1, 2, 3, 1, 0])  # 3 is the background
    one = evaluate(
        {"type": "CrossEntropyLoss", "use_sigmoid": True, "class_weight": 0.5}, pred, label, mmdet_version=version
    )
    each = evaluate(
        {"type": "CrossEntropyLoss", "use_sigmoid": True, "class_weight": [0.5] * 3}, pred, label, mmdet_version=version
    )
    targets = F.one_hot(label, 4)[:, :3].float()
    expected = F.binary_cross_entropy_with_logits(pred, targets, pos_weight=torch.tensor(0.5))
    assert torch.allclose(one.loss, expected) and torch.allclose(each.loss, expected)
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes"):
        evaluate({"type": "CrossEntropyLoss", "class_weight": 0.5}, pred, label.clamp(max=2), mmdet_version=version)

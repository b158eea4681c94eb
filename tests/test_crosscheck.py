"""`losstune eval` compares its final value with MMDetection's own module where it can be imported."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tests.conftest import EXAMPLES, invoke  # noqa: E402

ARGS = ("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_bbox")


class _L1Loss:
    """MMDetection 3.x's L1Loss, written out (a stand-in for the real package in this test)."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0) -> None:
        self.loss_weight = loss_weight

    def __call__(self, pred: Any, target: Any, weight: Any = None, avg_factor: Any = None, **_: Any) -> Any:
        loss = (pred - target).abs() * weight
        return self.loss_weight * loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)


class _WrongL1Loss(_L1Loss):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(*args, **kwargs) * 1.001


def _fake_mmdet(monkeypatch: pytest.MonkeyPatch, version: str, l1: type) -> None:
    mmdet = types.ModuleType("mmdet")
    mmdet.__version__ = version  # type: ignore[attr-defined]
    models = types.ModuleType("mmdet.models")
    losses = types.ModuleType("mmdet.models.losses")
    losses.L1Loss = l1  # type: ignore[attr-defined]
    for name, module in (("mmdet", mmdet), ("mmdet.models", models), ("mmdet.models.losses", losses)):
        monkeypatch.setitem(sys.modules, name, module)


def test_without_mmdetection_it_says_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mmdet", None)  # import fails
    code, out = invoke(*ARGS, cwd=EXAMPLES)
    assert code == 0 and "not checked against MMDetection: MMDetection 3.x cannot be imported here" in out


def test_equal_to_mmdetection(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_mmdet(monkeypatch, "3.3.0", _L1Loss)
    code, out = invoke(*ARGS, cwd=EXAMPLES)
    assert code == 0 and "checked: equal to MMDetection 3.3.0's L1Loss called on the same inputs" in out
    code, out = invoke(*ARGS, "--format", "json", cwd=EXAMPLES)
    assert json.loads(out)["check"] == {"reference": "MMDetection 3.3.0's L1Loss", "equal": True, "detail": ""}


def test_a_difference_fails_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_mmdet(monkeypatch, "3.3.0", _WrongL1Loss)
    code, out = invoke(*ARGS, cwd=EXAMPLES)
    assert code == 1 and "CHECK FAILED" in out and "loss = " in out


def test_mmdetection_2_is_not_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_mmdet(monkeypatch, "2.28.2", _WrongL1Loss)
    code, out = invoke(*ARGS, cwd=EXAMPLES)
    assert code == 0 and "the installed MMDetection is 2.28.2; the loss was evaluated as 3.x computes it" in out


def test_no_check(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_mmdet(monkeypatch, "3.3.0", _WrongL1Loss)
    code, out = invoke(*ARGS, "--no-check", cwd=EXAMPLES)
    assert code == 0 and "check" not in out.lower()


@pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="MMDetection is not installed")
def test_checked_against_the_installed_mmdetection_even_without_compiled_operators() -> None:
    """mmcv-lite ships no compiled operators, without which `mmdet.models` does not import as it is:
    the check imports it as --through-head does."""
    code, out = invoke("eval", "gfl_r50_fpn_1x_coco.py", "--loss", "loss_dfl", cwd=EXAMPLES)
    assert code == 0, out
    assert "checked: the module's result (step 5) is equal to MMDetection 3.3.0's DistributionFocalLoss" in out

"""The engine reads every number it takes from a config with one rule, as MMDetection's code
computes with the value: an int or float as it is, a bool as the int it equals (True is 1 to
Python), a float where an int is needed or anything not a number gives the default."""

from __future__ import annotations

from typing import Any

import pytest

from losstune.engine.confignum import config_float, config_int, number


@pytest.mark.parametrize(
    ("value", "read"), [(True, 1), (False, 0), (3, 3), (2.5, 2.5), ("3", None), (None, None), ([1], None)]
)
def test_the_rule(value: Any, read: int | float | None) -> None:
    assert number(value) == read and type(number(value)) is type(read)


def test_ints_and_floats_with_their_defaults_and_bounds() -> None:
    assert config_int({"n": True}, "n", 7) == 1 and type(config_int({"n": True}, "n", 7)) is int
    assert config_int({"n": 2.0}, "n", 7) == 7  # range(2.0) fails in MMDetection
    assert config_int({"n": 0}, "n", 7, least=1) == 7
    assert config_int({}, "n", None) is None
    assert config_int("not a dict", "n", 7) == 7
    assert config_float({"x": True}, "x", 0.5) == 1.0 and type(config_float({"x": 3}, "x", 0.5)) is float
    assert config_float({"x": 0}, "x", 0.5, above=0) == 0.5
    assert config_float({"x": -1}, "x", 0.5, least=0) == 0.5


def _levels(value: Any) -> Any:
    from losstune.engine.heads_corner import levels_of

    return levels_of({"num_feat_levels": value})


def _buckets(value: Any) -> Any:
    from losstune.engine.heads_sabl import coder_of

    return coder_of({"bbox_coder": {"num_buckets": value}}).num_buckets


def _initial_epoch(value: Any) -> Any:
    from losstune.engine.phases import phase_at

    at = phase_at("TOODHead", {"train_cfg": {"initial_epoch": value}}, 0)
    assert at is not None
    return dict(at.others).get("task-aligned")  # the first epoch of the phase after


def _queries(value: Any) -> Any:
    from losstune.engine.headmodel import num_queries

    return num_queries({"num_queries": value}, {})


def _carl_k(value: Any) -> Any:
    import torch

    from losstune.engine.heads_pisa import carl_weights

    _, text = carl_weights(4, 80, {"k": value}, torch.Generator().manual_seed(0))
    return text.split("k=", 1)[1].split(",", 1)[0]


@pytest.mark.parametrize(
    ("read", "true", "float_", "default"),
    [
        (_levels, 1, 2, 2),  # CornerHead's num_feat_levels: range(True) is one stack
        (_buckets, 1, 14, 14),  # SABL's bbox_coder.num_buckets
        (_initial_epoch, 1, None, None),  # TOODHead's epoch < initial_epoch
        (_queries, 1, 100, 100),  # DETR's nn.Embedding(num_queries, ...)
        (_carl_k, "1", "2.5", "1"),  # PISA's CARL k, a float: 2.5 is read as it is
    ],
)
def test_every_reader_follows_the_rule(read: Any, true: Any, float_: Any, default: Any) -> None:
    pytest.importorskip("torch")
    got = read(True)
    assert got == true and type(got) is type(true)  # a bool is the int it equals, never kept as a bool
    assert read(2.5 if read is _carl_k else 2.0) == float_
    assert read("3") == default

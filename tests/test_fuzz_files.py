"""Fuzzing the readers: random bytes, YAML, JSON, schema files and ``[tool.losstune]`` tables.

Whatever the input, loading and linting it ends in values or diagnostics within a time bound:
never an exception, never a ``check-failed`` finding (losstune failing on the file), and every
diagnostic names a file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losstune.lint.run import lint
from losstune.lint.settings import Settings, SettingsError, load_settings
from losstune.loader import codes
from losstune.loader.resolve import Resolver
from losstune.schema.registry import SchemaError, load_schema

SCHEMA = load_schema()
SECONDS = 5.0  # per example; a hostile input is answered well within it
FUZZ = settings(
    max_examples=60,
    deadline=None,  # the bound is checked explicitly, on the work itself
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


DEFAULTS = Settings()


def _check(path: Path, settings_: Settings = DEFAULTS, schema: Any = SCHEMA) -> None:
    start = time.perf_counter()
    result = Resolver().resolve(path)
    found = lint([str(path)], schema, settings_)
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS, f"{elapsed:.1f} s"
    for d in [*result.diagnostics, *found.diagnostics]:
        assert d.code != codes.CHECK_FAILED.code, d.message
        assert d.span is not None and d.span.file, d
    json.dumps([d.message for d in found.diagnostics])  # every message is text


def _write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


# -- values ---------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**4000), max_value=10**4000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["FocalLoss", "CrossEntropyLoss", "L1Loss", "RandomSampler", "_base_", "_delete_", "type"]),
)
keys = st.one_of(
    st.sampled_from(["model", "type", "loss_cls", "loss_bbox", "bbox_head", "gamma", "alpha", "_delete_", "_base_"]),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=40,
)
documents = st.dictionaries(keys, values, max_size=6)


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".py", ".yaml", ".yml", ".json"]))
def test_random_bytes(folder: Path, data: bytes, suffix: str) -> None:
    _check(_write(folder, "cfg" + suffix, data))


@FUZZ
@given(doc=documents)
def test_random_yaml_documents(folder: Path, doc: dict[str, Any]) -> None:
    _check(_write(folder, "cfg.yaml", yaml.safe_dump(doc, allow_unicode=True)))


@FUZZ
@given(doc=documents)
def test_random_json_documents(folder: Path, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, ensure_ascii=False, allow_nan=True)
    _check(_write(folder, "cfg.json", text))


# -- token soups: text made of the pieces the grammars are made of ----------------------------------

YAML_PIECES = [
    "a", "b", ": ", "- ", "\n", "  ", "[", "]", "{", "}", ", ", "&x ", "*x", "&y ", "*y", "<<: ", "!!python/tuple ",
    "!!python/object:os.system ", "!!str ", "!!int ", "!!binary ", "? ", "'", '"', "#", "---\n", "...\n", "%YAML 1.1\n",
    "1", "0x1F", "1e3", "2001-02-30", "yes", "~", "|\n", ">\n", "\t", "{{_base_.a}}", "{{$HOME:x}}", "9" * 5000,
]  # fmt: skip
JSON_PIECES = [
    "{", "}", "[", "]", ":", ",", '"a"', '"b"', '"\\ud800"', '"\\u0000"', "1", "-0", "1e999", "NaN", "-Infinity",
    "true", "null", " ", "\n", '"', "\\", "9" * 5000, "[[[[[[[[", "]]]]]]]]",
]  # fmt: skip


@FUZZ
@given(pieces=st.lists(st.sampled_from(YAML_PIECES), max_size=60))
def test_yaml_token_soup(folder: Path, pieces: list[str]) -> None:
    _check(_write(folder, "cfg.yaml", "".join(pieces)))


@FUZZ
@given(pieces=st.lists(st.sampled_from(JSON_PIECES), max_size=60))
def test_json_token_soup(folder: Path, pieces: list[str]) -> None:
    _check(_write(folder, "cfg.json", "".join(pieces)))


@FUZZ
@given(
    levels=st.integers(min_value=1, max_value=12),
    width=st.integers(min_value=1, max_value=12),
    mapping=st.booleans(),
)
def test_yaml_alias_graphs(folder: Path, levels: int, width: int, mapping: bool) -> None:
    lines = ["l0: &l0 [x]"]
    for i in range(1, levels):
        items = [f"k{j}: *l{i - 1}" for j in range(width)] if mapping else [f"*l{i - 1}"] * width
        body = "{" + ", ".join(items) + "}" if mapping else "[" + ", ".join(items) + "]"
        lines.append(f"l{i}: &l{i} {body}")
    _check(_write(folder, "cfg.yaml", "\n".join(lines) + "\n"))


# -- schema files and settings --------------------------------------------------------------------

PARAM_FIELDS = ["type", "description", "default", "required", "versions", "choices", "min", "max", "exclusive_min"]
params = st.dictionaries(st.sampled_from(["gamma", "alpha", "loss_weight", "reduction"]), st.dictionaries(
    st.sampled_from(PARAM_FIELDS), st.one_of(values, st.sampled_from(["float", "int|None", "list[float]", "any"])),
    max_size=4,
), max_size=3)  # fmt: skip
entries = st.fixed_dictionaries(
    {"name": st.sampled_from(["FocalLoss", "MyLoss", "RandomSampler"])},
    optional={
        "params": params,
        "versions": st.one_of(values, st.just([2, 3])),
        "balances_itself": st.booleans(),
        "exclusive": values,
        "requires": values,
    },
)
schema_docs = st.one_of(values, st.fixed_dictionaries({}, optional={"losses": st.lists(entries, max_size=3)}))

CONFIG = (
    "model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=3,\n"
    "    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),\n"
    "    loss_bbox=dict(type='MyLoss', reduction='mean')))\n"
)


@FUZZ
@given(doc=schema_docs)
def test_random_schema_files(folder: Path, doc: Any) -> None:
    path = _write(folder, "losses.yaml", yaml.safe_dump(doc, allow_unicode=True))
    try:
        schema = load_schema([path])
    except SchemaError as e:
        assert "losses.yaml" in str(e)
        return
    _check(_write(folder, "cfg.py", CONFIG), schema=schema)


def _toml(value: Any) -> str:
    """A TOML value (the tables and arrays TOML can write inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.sampled_from(["LT1", "LT103", "*"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
tables = st.dictionaries(
    st.sampled_from(
        ["select", "ignore", "per-file-ignores", "strict", "schema", "mmdet-version", "max-file-size", "other"]
    ),
    toml_values,
    max_size=4,
)


@FUZZ
@given(table=tables, nesting=st.integers(min_value=0, max_value=3000))
def test_random_losstune_settings(folder: Path, table: dict[str, Any], nesting: int) -> None:
    lines = ["[tool.losstune]", *(f"{json.dumps(k)} = {_toml(v)}" for k, v in table.items())]
    if nesting > 2000:
        lines.append('"deep" = ' + "[" * nesting + "]" * nesting)
    _write(folder, "pyproject.toml", "\n".join(lines) + "\n")
    config = _write(folder, "cfg.py", CONFIG)
    start = time.perf_counter()
    try:
        found = load_settings(str(config))
    except SettingsError as e:
        assert "pyproject.toml" in str(e)
        return
    finally:
        assert time.perf_counter() - start < SECONDS
    try:
        _check(config, found)
    finally:
        os.unlink(folder / "pyproject.toml")

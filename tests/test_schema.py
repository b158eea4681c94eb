"""The built-in schema: every MMDetection loss and sampler, faithful to the catalogue."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losstune.cli.app import app
from losstune.schema.registry import SchemaError, load_schema
from tests.conftest import REPO

SCHEMA = load_schema()
CATALOGUE = REPO.parent / "shared" / "reference" / "mmdet-losses.json"
runner = CliRunner()


def _names(kind: str, version: int) -> set[str]:
    """MMDetection's own types of ``kind`` in ``version`` (not those other projects register there)."""
    return {
        e.name
        for e in SCHEMA.entries.values()
        if e.kind == kind and version in e.versions and e.project_in(version) == "MMDetection"
    }


def test_counts_per_version() -> None:
    assert (len(_names("loss", 3)), len(_names("loss", 2))) == (30, 21)
    assert (len(_names("sampler", 3)), len(_names("sampler", 2))) == (9, 8)


@pytest.mark.skipif(
    not CATALOGUE.exists(),
    reason="needs the reference catalogue beside the checkout (../shared/reference/mmdet-losses.json)",
)
def test_parameters_and_defaults_match_the_catalogue() -> None:
    data = json.loads(CATALOGUE.read_text())
    for version in (2, 3):
        registered = data["meta"]["registered"][f"v{version}"]
        assert _names("loss", version) == set(registered["losses"])
        assert _names("sampler", version) == set(registered["samplers"])
    for item in data["losses"] + data["samplers"]:
        entry = SCHEMA.entries[item["name"]]
        for tag, init in item["init"].items():
            version = int(tag[1])
            params = entry.params_for(version)
            signature = {p["name"] for p in init["params"]}
            # Every constructor parameter is known; extra ones reach the constructor through
            # **kwargs, and the catalogue's parameter schema lists them.
            assert signature <= set(params), (entry.name, version)
            assert set(params) - signature <= set(item["param_schema"]), (entry.name, version)
            for p in init["params"]:
                spec = params[p["name"]]
                if p["default"] is not None:
                    assert spec.has_default and spec.default == ast.literal_eval(p["default"]), (entry.name, p)


def test_every_entry_is_documented() -> None:
    for entry in SCHEMA.entries.values():
        assert entry.summary, entry.name
        if entry.kind == "loss":
            assert entry.formula, entry.name
        for p in entry.params.values():
            assert p.description, (entry.name, p.name)
            if p.has_default and p.default is not None and not p.internal:
                assert p.type.accepts(p.default), (entry.name, p.name)


def test_scope_prefixes() -> None:
    focal = SCHEMA.get("FocalLoss")
    assert focal is not None
    assert SCHEMA.get("mmdet.FocalLoss") is focal
    assert SCHEMA.get("mmdet.models.losses.focal_loss.FocalLoss") is focal
    assert SCHEMA.get("mmpretrain.CrossEntropyLoss") is None


def test_user_schema_errors_name_the_file(write: Callable[..., Path]) -> None:
    bad = write("s.yaml", "losses:\n  - name: X\n    params: {gamma: {type: float, minimum: 0}}\n")
    with pytest.raises(SchemaError) as err:
        load_schema([bad])
    assert "s.yaml" in str(err.value) and "minimum" in str(err.value)
    with pytest.raises(SchemaError):
        load_schema([write("t.yaml", "losses: [1, 2]\n")])


def test_schema_command() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert "FocalLoss" in result.stdout and "RandomSampler" in result.stdout
    result = runner.invoke(app, ["schema", "FocalLoss"])
    assert result.exit_code == 0
    assert "γ" in result.stdout and "exactly True" in result.stdout
    result = runner.invoke(app, ["schema", "FocalLoss", "--format", "json"])
    data = json.loads(result.stdout)
    gamma = next(p for p in data["params"] if p["name"] == "gamma")
    assert (gamma["default"], gamma["min"]) == (2.0, 0)
    result = runner.invoke(app, ["schema", "FocalLos"])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("losses: 5\n", "`losses` must be a list of loss entries"),
        ("losses:\n  - {name: X, versions: 3}\n", "`versions` must list MMDetection versions"),
        ("losses:\n  - {name: X, versions: [4]}\n", "`versions` must list MMDetection versions"),
        ("losses:\n  - {name: X, params: {g: {min: abc}}}\n", "parameter `g`: `min` must be a number"),
        ("losses:\n  - {name: X, params: {g: {max: true}}}\n", "parameter `g`: `max` must be a number"),
        ("losses:\n  - {name: X, params: {g: {choices: mean}}}\n", "`choices` must be a list of values"),
        ("losses:\n  - {name: X, params: {g: {type: 5}}}\n", "`type` must be a type"),
        ("losses:\n  - {name: X, params: {g: {required: 'yes'}}}\n", "`required` must be true or false"),
        ("losses:\n  - {name: X, params: {g: {versions: [2]}, 5: 1}}\n", "parameter `5` must be a mapping"),
        ("losses:\n  - {name: X, symbols: [a]}\n", "`symbols` must be a mapping"),
        ("losses:\n  - {name: X, exclusive: [a, b]}\n", "each group of `exclusive` must be a list"),
        ("losses:\n  - {name: X, requires: [{if: a}]}\n", "`requires` must be a list of {if: parameter"),
        ("samplers:\n  - {name: S, balances_itself: 1}\n", "sampler `S`: `balances_itself` must be true or false"),
    ],
)
def test_user_schema_fields_of_the_wrong_kind(write: Callable[..., Path], text: str, words: str) -> None:
    with pytest.raises(SchemaError) as err:
        load_schema([write("s.yaml", text)])
    assert "s.yaml" in str(err.value) and words in str(err.value)


def test_a_type_may_be_a_union_of_scalars_lists_and_none() -> None:
    from losstune.schema.registry import TypeSpec

    spec = TypeSpec("float|list[float]|None")
    assert all(spec.accepts(v) for v in (0.5, 1, [0.2, 0.8], (1.0,), [], None))
    assert not any(spec.accepts(v) for v in ("0.5", True, [0.2, "x"], [[1.0]], {"a": 1.0}))
    assert not TypeSpec("float|list[float]").accepts(None)
    assert TypeSpec("int|None").accepts(3) and not TypeSpec("int|None").accepts(3.5)

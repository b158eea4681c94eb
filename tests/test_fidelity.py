"""Every case under tests/fidelity/cases resolves exactly as mmengine resolved it.

The expectations were produced by mmengine itself (tests/fidelity/make_expected.py); a case that
mmengine refuses must give an error-level diagnostic.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from losstune.loader.pkgfind import is_builtin_module
from losstune.loader.resolve import Resolver
from losstune.loader.values import contains_opaque, to_plain
from losstune.model import Severity
from tests.conftest import shape

CASES = Path(__file__).parent / "fidelity" / "cases"
ENTRIES = ("main.py", "main.yaml", "main.yml", "main.json")
_PLACEHOLDER = re.compile(r"_losstune_base_ref_:([\w.]+)")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__dict_items__"}:
            return {_decode(k): _decode(v) for k, v in value["__dict_items__"]}
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _normalise(value: Any, case_dir: str) -> Any:
    """What make_expected.py does to mmengine's output, done to losstune's."""
    if isinstance(value, dict):
        return {_normalise(k, case_dir): _normalise(v, case_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, case_dir) for v in value]
    if isinstance(value, tuple):
        return tuple(_normalise(v, case_dir) for v in value)
    if isinstance(value, str):
        value = value.replace(case_dir, "<CASE_DIR>")
        # A quoted `{{_base_.x}}` leaves mmengine's random placeholder in the value.
        return _PLACEHOLDER.sub(lambda m: f"_{m.group(1)}_<RAND6>", value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "expected.json").exists())


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_case_resolves_like_mmengine(case: Path) -> None:
    if case.name == "import_os_first" and is_builtin_module("os"):
        pytest.skip("mmengine reads this case in classic mode on this interpreter; it was recorded where it does not")
    expected = json.loads((case / "expected.json").read_text())
    env_file = case / "env.json"
    env = json.loads(env_file.read_text()) if env_file.exists() else {}
    result = Resolver(env=env).resolve(case / expected["entry"])
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if "error" in expected:
        assert errors, f"mmengine refuses this config ({expected['error']}); losstune reported no error"
        return
    assert not errors, [f"{d.span}: {d.message}" for d in errors]
    assert result.cfg is not None
    if case.name in AS_WRITTEN_BY_DESIGN:
        assert any(d.code == "LT019" for d in result.diagnostics)
        assert to_plain(result.cfg) == AS_WRITTEN_BY_DESIGN[case.name]
        return
    if case.name in OPAQUE_BY_DESIGN:
        assert any(d.code == "LT010" for d in result.diagnostics)
        assert contains_opaque(result.cfg)
        return
    got = _normalise(to_plain(result.cfg), str(case.resolve()))
    want = _normalise(_decode(expected["result"]), str(case.resolve()))
    assert got == want
    assert shape(got) == shape(want), "same values, but key order or value types differ"


# Function definitions and lambdas are not interpreted: the values they compute are reported as
# opaque (with a warning at the call), never guessed.
OPAQUE_BY_DESIGN = {"helper_function"}

# mmengine splices a template's default into a regular expression unescaped, so `focal+ce` matches
# nothing and the template text stays in the config. losstune substitutes the default as written
# and warns (LT019) that mmengine would not.
AS_WRITTEN_BY_DESIGN = {"env_var_regex_default": {"loss_name": "focal+ce", "ann_file": "instances.json"}}

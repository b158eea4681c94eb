"""Settings never fail silently: a broken pyproject.toml, an unknown code or prefix and an unknown
key are exit 2 with the file and line (or the option) and what to do; prefixes and ALL select."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.lint.selection import known_codes, ranges
from tests.conftest import invoke

BAD = "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0, alpha=1.5)))\n"


@pytest.fixture
def project(write: Callable[..., Path], tmp_path: Path) -> Path:
    write("bad.py", BAD)
    write("info.py", "model = dict(bbox_head=dict(loss_cls=dict(type='mmpose.KLDiscretLoss')))\n")
    return tmp_path


def _codes(project: Path, *args: str) -> list[str]:
    code, out = invoke("lint", *args, "-f", "json", cwd=project)
    assert code in (0, 1), out
    return [d["code"] for d in json.loads(out)["diagnostics"]]


def test_a_pyproject_that_is_not_toml_names_its_line_and_what_to_do(project: Path, write: Callable[..., Path]) -> None:
    write("pyproject.toml", '[tool.losstune]\nselect = ["LT1"\nignore = []\n')
    code, out = invoke("lint", "bad.py", cwd=project)
    assert code == 2
    assert out == (
        f"losstune: error: {project / 'pyproject.toml'}:3:1: not valid TOML: unclosed array; fix the TOML there "
        "(losstune reads its settings from [tool.losstune] in this file)\n"
    )


def test_an_unknown_code_in_the_settings_names_the_file_and_line(project: Path, write: Callable[..., Path]) -> None:
    write(
        "pyproject.toml",
        '[project]\nname = "p"\n\n[tool.losstune]\nstrict = true\nignore = [\n  "LT104",\n  "LT999",\n]\n',
    )
    code, out = invoke("lint", "bad.py", cwd=project)
    assert code == 2
    assert out.startswith(
        f"losstune: error: {project / 'pyproject.toml'}:8: [tool.losstune] ignore: `LT999` is neither a code nor the prefix "
        "of one; the codes are LT001-"
    )
    assert f"the codes are {ranges(known_codes())} (`losstune rule` lists them" in out


def test_an_unknown_code_in_per_file_ignores(project: Path, write: Callable[..., Path]) -> None:
    write("pyproject.toml", '[tool.losstune.per-file-ignores]\n"legacy/*" = ["LTT102"]\n')
    code, out = invoke("lint", "bad.py", cwd=project)
    assert code == 2
    assert out.startswith(
        f"losstune: error: {project / 'pyproject.toml'}:2: [tool.losstune] per-file-ignores.legacy/*: `LTT102` is neither a code "
        "nor the prefix of one; did you mean `LT102`? The codes are"
    )


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_an_unknown_prefix_on_the_command_line_names_the_option(project: Path, option: str) -> None:
    code, out = invoke("lint", "bad.py", option, "LT102,LT9", cwd=project)
    assert code == 2
    assert out.startswith(f"losstune: error: {option}: `LT9` is neither a code nor the prefix of one; the codes are")
    assert "All checks passed" not in out


def test_an_unknown_key_names_its_line_with_a_did_you_mean(project: Path, write: Callable[..., Path]) -> None:
    write("pyproject.toml", '[tool.losstune]\nstrict = true\nselct = ["LT1"]\n')
    code, out = invoke("lint", "bad.py", cwd=project)
    assert code == 2
    assert out == (
        f"losstune: error: {project / 'pyproject.toml'}:3: [tool.losstune] has no setting `selct`; did you mean `select`? "
        "(the settings are baseline, ignore, max-file-size, mmdet-version, per-file-ignores, schema, select, strict)\n"
    )


def test_selecting_by_prefix(project: Path) -> None:
    assert _codes(project, "bad.py") == ["LT102", "LT104"]
    assert _codes(project, "bad.py", "--select", "LT10") == ["LT102", "LT104"]
    assert _codes(project, "bad.py", "--select", "lt1") == ["LT102", "LT104"]
    assert _codes(project, "bad.py", "--select", "LT104") == ["LT104"]
    assert _codes(project, "bad.py", "--ignore", "LT10") == []
    assert _codes(project, "bad.py", "--select", "LT0") == []


def test_all_selects_every_code_and_the_rules_off_by_default_too(project: Path) -> None:
    assert _codes(project, "info.py") == []
    assert _codes(project, "info.py", "--select", "LT") == []
    assert _codes(project, "info.py", "--select", "ALL") == ["LT116"]
    assert _codes(project, "bad.py", "--select", "ALL", "--ignore", "LT104") == ["LT102"]
    assert _codes(project, "bad.py", "--ignore", "ALL") == []


def test_no_code_is_suggested_where_two_are_as_close(project: Path) -> None:
    code, out = invoke("lint", "bad.py", "--select", "LT11O", cwd=project)
    assert code == 2 and "did you mean" not in out


def test_ranges_of_codes() -> None:
    assert ranges(["LT001", "LT002", "LT003", "LT005", "LT101", "LT102"]) == "LT001-LT003, LT005, LT101-LT102"
    codes = known_codes()
    assert "LT001" in codes and "LT102" in codes and codes == sorted(codes)


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("mmdet-version = true", "mmdet-version must be 2 or 3"),  # true == 1, and 3.0 == 3: neither is a version
        ("mmdet-version = 3.0", "mmdet-version must be 2 or 3"),
        ("max-file-size = true", "max-file-size must be a number of bytes such as 16_000_000 (default 4_194_304)"),
        ("strict = 1", "strict must be true or false"),
    ],
)
def test_a_bool_is_not_a_number_in_the_settings_nor_a_number_a_bool(
    project: Path, write: Callable[..., Path], setting: str, said: str
) -> None:
    write("pyproject.toml", f'[project]\nname = "p"\n\n[tool.losstune]\n{setting}\n')
    code, out = invoke("lint", "bad.py", cwd=project)
    assert (code, out) == (2, f"losstune: error: {project / 'pyproject.toml'}:5: [tool.losstune] {said}\n")

"""YAML, JSON and TOML beyond what losstune reads: a diagnostic at the file and line, in bounded time.

Alias bombs, nesting that would exhaust the recursion limit, integers Python refuses to convert,
values PyYAML cannot build: each is reported where it is written; none is an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.lint.settings import SettingsError, load_settings
from losstune.loader.limits import MAX_DATA_DEPTH, MAX_DATA_VALUES
from losstune.loader.resolve import Resolver
from losstune.model import Severity
from losstune.schema.registry import SchemaError, load_schema


def _errors(path: Path) -> list[tuple[str, str, int, str]]:
    start = time.process_time()  # CPU time: the work done, whatever else the machine is running
    result = Resolver().resolve(path)
    assert time.process_time() - start < 5
    return [
        (d.code, Path(d.span.file).name if d.span else "", d.span.line if d.span else 0, d.message)
        for d in result.diagnostics
        if d.severity is Severity.ERROR
    ]


def _laughs(levels: int, mapping: bool) -> str:
    """A "billion laughs": each level holds ten aliases of the one before."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        items = (", ".join(f"k{j}: *{prev}" for j in range(10))) if mapping else ", ".join([f"*{prev}"] * 10)
        lines.append(f"{name}: &{name} " + ("{" + items + "}" if mapping else "[" + items + "]"))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("mapping", [False, True], ids=["lists", "mappings"])
def test_yaml_alias_bomb(write: Callable[..., Path], mapping: bool) -> None:
    cfg = write("bomb.yaml", _laughs(9, mapping))  # 10**9 values once expanded
    [(code, file, line, message)] = _errors(cfg)
    assert (code, file) == ("LT001", "bomb.yaml")
    assert line == 5  # the first level that expands beyond the limit
    expanded = "122,221" if mapping else "111,111"  # keys count as values too
    assert f"the YAML aliases here expand to {expanded} values" in message
    assert f"losstune reads at most {MAX_DATA_VALUES:,}" in message


def test_yaml_aliases_below_the_limit_are_read(write: Callable[..., Path]) -> None:
    cfg = write("ok.yaml", _laughs(3, mapping=False))  # 1,000 values expanded
    result = Resolver().resolve(cfg)
    assert result.ok and result.cfg is not None and len(result.cfg["c"][9][9]) == 10


def test_yaml_recursive_alias(write: Callable[..., Path]) -> None:
    cfg = write("rec.yaml", "x: 1\na: &a [1, *a]\n")
    [(code, _, line, message)] = _errors(cfg)
    assert (code, line) == ("LT001", 2) and "contains itself through an alias" in message


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 500 + "]" * 500 + "\n",
        "a: " + "[" * 50_000 + "]" * 50_000 + "\n",
        "a: " + "{b: " * 500 + "1" + "}" * 500 + "\n",
        "".join(" " * i + "k:\n" for i in range(300)) + " " * 300 + "v\n",
        "- " * 3000 + "x\n",
    ],
    ids=["flow-lists", "flow-lists-50000", "flow-mappings", "block-mappings", "block-lists"],
)
def test_deeply_nested_yaml(write: Callable[..., Path], text: str) -> None:
    cfg = write("deep.yaml", text)
    [(code, file, line, message)] = _errors(cfg)
    assert (code, file) == ("LT001", "deep.yaml") and line >= 1
    # libyaml itself refuses 1,000 levels of flow collections; losstune refuses more than 100 levels.
    assert f"more than {MAX_DATA_DEPTH} levels deep" in message or "exceeded maximum nesting depth" in message


def test_yaml_nesting_through_aliases(write: Callable[..., Path]) -> None:
    deep = "[" * 60 + "1" + "]" * 60
    cfg = write("deep.yaml", f"a: &a {deep}\nb: &b {'[' * 60}*a{']' * 60}\n")
    [(code, _, line, message)] = _errors(cfg)
    assert (code, line) == ("LT001", 1) and f"more than {MAX_DATA_DEPTH} levels deep" in message


def test_yaml_with_too_many_values(write: Callable[..., Path]) -> None:
    cfg = write("many.yaml", "a: [" + "0, " * (MAX_DATA_VALUES + 10) + "0]\n")
    [(code, _, line, message)] = _errors(cfg)
    assert (code, line) == ("LT001", 1) and f"more than {MAX_DATA_VALUES:,} values" in message


def test_json_with_too_many_values(write: Callable[..., Path]) -> None:
    cfg = write("many.json", '{"a": [' + "0, " * (MAX_DATA_VALUES + 10) + "0]}\n")
    [(code, _, line, message)] = _errors(cfg)
    assert (code, line) == ("LT001", 1) and f"more than {MAX_DATA_VALUES:,} values" in message


@pytest.mark.parametrize("text", ['{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", '{"a": ' + '{"b": ' * 5000 + "1"])
def test_deeply_nested_json(write: Callable[..., Path], text: str) -> None:
    cfg = write("deep.json", text)
    [(code, file, line, message)] = _errors(cfg)
    assert (code, file, line) == ("LT001", "deep.json", 1)
    assert f"more than {MAX_DATA_DEPTH} levels deep" in message


def test_json_nested_within_the_limit_is_read(write: Callable[..., Path]) -> None:
    depth = MAX_DATA_DEPTH - 1
    cfg = write("ok.json", '{"a": ' + "[" * depth + "]" * depth + "}")
    assert Resolver().resolve(cfg).ok


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("big.json", '{"x": 1,\n "a": ' + "7" * 100_000 + "}\n", 2),
        ("big.yaml", "x: 1\na: " + "7" * 100_000 + "\n", 2),
        ("neg.json", '{"a": -' + "7" * 5000 + "}\n", 1),
        ("sexagesimal.yaml", "a: 1" + ":30" * 5000 + "\n", 1),
    ],
)
def test_integers_python_will_not_convert(write: Callable[..., Path], name: str, text: str, line: int) -> None:
    cfg = write(name, text)
    [(code, file, at, message)] = _errors(cfg)
    assert (code, file, at) == ("LT001", name, line)
    assert "converts at most 4,300 digits to an integer" in message


def test_integers_within_pythons_limit_are_read(write: Callable[..., Path]) -> None:
    cfg = write("ok.json", '{"a": ' + "7" * 4300 + "}")
    result = Resolver().resolve(cfg)
    assert result.ok and result.cfg is not None and result.cfg["a"] == int("7" * 4300)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x: 1\nday: 2001-02-30\n", "day is out of range for month"),
        ("x: 1\na: {<<: 5}\n", "expected a mapping or list of mappings for merging"),
    ],
)
def test_yaml_values_pyyaml_cannot_build(write: Callable[..., Path], text: str, words: str) -> None:
    cfg = write("cfg.yaml", text)
    [(code, _, line, message)] = _errors(cfg)
    assert (code, line) == ("LT001", 2) and words in message


def test_deeply_nested_toml_settings(write: Callable[..., Path], tmp_path: Path) -> None:
    write("pyproject.toml", "[tool.losstune]\nselect = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SettingsError, match=r"pyproject\.toml: not valid TOML: it nests tables or arrays too deeply"):
        load_settings(str(tmp_path))


def test_toml_settings_integer_with_too_many_digits(write: Callable[..., Path], tmp_path: Path) -> None:
    write("pyproject.toml", "[tool.losstune]\nmax-file-size = 1" + "0" * 5000 + "\n")
    with pytest.raises(
        SettingsError, match=r"pyproject\.toml: not valid TOML: a number has more than the 4,300 digits"
    ):
        load_settings(str(tmp_path))


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("schema = 5", "schema must be a list of file paths"),
        ("schema = [1]", "schema must be a list of file paths"),
        ("strict = 'yes'", "strict must be true or false"),
        ("mmdet-version = 2.0", "mmdet-version must be 2 or 3"),
        ("mmdet-version = true", "mmdet-version must be 2 or 3"),
        ("select = [1]", "select must be a list of rule codes"),
    ],
)
def test_settings_of_the_wrong_type(write: Callable[..., Path], tmp_path: Path, table: str, words: str) -> None:
    write("pyproject.toml", f"[tool.losstune]\n{table}\n")
    with pytest.raises(SettingsError, match=words):
        load_settings(str(tmp_path))


def test_broken_toml_that_names_losstune(write: Callable[..., Path], tmp_path: Path) -> None:
    write("pyproject.toml", "[tool.losstune]\nselect = [1,,]\n")
    with pytest.raises(SettingsError, match=r"pyproject.toml:2:13: not valid TOML: invalid value; fix the TOML there"):
        load_settings(str(tmp_path))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_laughs(9, mapping=False), "expand to"),
        ("losses: " + "[" * 500 + "]" * 500 + "\n", "levels deep"),
        ("losses:\n  - name: A\n    params:\n      p: {default: " + "9" * 100_000 + "}\n", "4,300 digits"),
        ("losses: !!python/object/apply:os.system ['true']\n", "!!python/object/apply:os.system"),
    ],
)
def test_schema_files_are_read_within_the_same_limits(write: Callable[..., Path], text: str, words: str) -> None:
    path = write("losses.yaml", text)
    with pytest.raises(SchemaError, match=r"losses.yaml:\d+:\d+: not a usable YAML file") as e:
        load_schema([path])
    assert words in str(e.value)


@pytest.mark.parametrize("text", ["!!int ", "a: !!int\n", "a: !!float ''\n", "a: !!binary x\n", "a: !!timestamp x\n"])
def test_explicit_tags_on_values_they_cannot_build(write: Callable[..., Path], text: str) -> None:
    [(code, file, line, message)] = _errors(write("cfg.yaml", text))
    assert (code, file, line) == ("LT001", "cfg.yaml", 1) and "cannot" in message


def test_an_error_at_the_end_of_a_file_without_a_final_newline(write: Callable[..., Path]) -> None:
    [(code, _, line, message)] = _errors(write("cfg.yaml", "x: 1\n<<: "))
    assert (code, line) == ("LT001", 2) and "merging" in message


def test_a_character_yaml_does_not_allow(write: Callable[..., Path]) -> None:
    [(code, _, line, message)] = _errors(write("cfg.yaml", "x: 1\ny: \x00\n"))
    assert (code, line) == ("LT001", 2) and "unacceptable character #x0000" in message

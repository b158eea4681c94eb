"""Bad input becomes a diagnostic with a code and a position, never a crash."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.loader.resolve import Resolver
from losstune.model import Severity


def _errors(path: Path, env: dict[str, str] | None = None) -> list[tuple[str, str, int, int]]:
    result = Resolver(env=env or {}).resolve(path)
    return [
        (d.code, Path(d.span.file).name if d.span else "", d.span.line if d.span else 0, d.span.column if d.span else 0)
        for d in result.diagnostics
        if d.severity is Severity.ERROR
    ]


def test_python_syntax_error(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "model = dict(\n    loss=dict(type='L1Loss',, loss_weight=1.0))\n")
    assert _errors(cfg) == [("LT001", "cfg.py", 2, 29)]


def test_missing_base_is_reported_where_it_is_named(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "_base_ = ['./ok.py', './nope.py']\nx = 1\n")
    write("ok.py", "y = 2\n")
    assert _errors(cfg) == [("LT006", "cfg.py", 1, 22)]


def test_inheritance_cycle_names_the_chain(write: Callable[..., Path]) -> None:
    a = write("a.py", "_base_ = './b.py'\n")
    write("b.py", "_base_ = './a.py'\n")
    result = Resolver().resolve(a)
    [d] = [d for d in result.diagnostics if d.code == "LT007"]
    assert d.span is not None and Path(d.span.file).name == "b.py" and d.span.line == 1
    assert "a.py -> " in d.message and "b.py -> " in d.message


def test_non_utf8_bytes(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", b"x = 1\nname = '\xff'\n")
    assert _errors(cfg) == [("LT002", "cfg.py", 2, 9)]


@pytest.mark.parametrize("name", ["cfg.py", "cfg.yaml", "cfg.json"])
def test_empty_file(write: Callable[..., Path], name: str) -> None:
    assert _errors(write(name, "\n  \n")) == [("LT003", name, 1, 1)]


def test_directory(tmp_path: Path) -> None:
    assert [e[0] for e in _errors(tmp_path)] == ["LT004"]


def test_missing_file(tmp_path: Path) -> None:
    assert [e[0] for e in _errors(tmp_path / "nope.py")] == ["LT004"]


def test_unsupported_file_type(write: Callable[..., Path]) -> None:
    assert [e[0] for e in _errors(write("cfg.toml", "a = 1\n"))] == ["LT005"]


def test_yaml_syntax_error(write: Callable[..., Path]) -> None:
    cfg = write("cfg.yaml", "model:\n  loss: [1, 2\n")
    [(code, name, line, _)] = _errors(cfg)
    assert (code, name, line) == ("LT001", "cfg.yaml", 3)


def test_json_syntax_error(write: Callable[..., Path]) -> None:
    cfg = write("cfg.json", '{"model": {"loss": 1,}}\n')
    assert _errors(cfg) == [("LT001", "cfg.json", 1, 22)]


def test_unsafe_yaml_tag_is_refused_not_built(write: Callable[..., Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cfg = write("cfg.yaml", f"x: !!python/object/apply:os.system ['touch {marker}']\ny: 1\n")
    assert _errors(cfg) == [("LT011", "cfg.yaml", 1, 4)]
    assert not marker.exists()


def test_duplicate_key_among_bases(write: Callable[..., Path]) -> None:
    write("a.py", "model = dict(x=1)\n")
    write("b.py", "model = dict(y=1)\n")
    cfg = write("cfg.py", "_base_ = ['./a.py', './b.py']\n")
    assert _errors(cfg) == [("LT008", "cfg.py", 1, 21)]


def test_dict_over_non_dict(write: Callable[..., Path]) -> None:
    write("a.py", "model = dict(heads=[dict(x=1)])\n")
    cfg = write("cfg.py", "_base_ = './a.py'\nmodel = dict(heads=dict(x=2))\n")
    assert _errors(cfg) == [("LT009", "cfg.py", 2, 20)]


def test_missing_environment_variable(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "root = '{{$LT_UNSET_VAR:}}'\n")
    assert _errors(cfg) == [("LT016", "cfg.py", 1, 9)]


def test_new_style_config_errors(write: Callable[..., Path]) -> None:
    # A missing `read_base()` module is reported at its import.
    cfg = write("lazy.py", "from mmengine.config import read_base\nwith read_base():\n    from .nope import *\n")
    assert _errors(cfg) == [("LT006", "lazy.py", 3, 5)]
    # A classic chain cannot inherit a new-style file, and the reverse mix is refused too.
    write("new.py", "from mmdet.models.losses import FocalLoss\nloss = dict(type=FocalLoss)\n")
    assert _errors(write("classic.py", "_base_ = './new.py'\n")) == [("LT013", "classic.py", 1, 10)]
    mixed = write("mixed.py", "from mmdet.models.losses import FocalLoss\n_base_ = ['./new.py']\n")
    assert [e[:3] for e in _errors(mixed)] == [("LT013", "mixed.py", 2)]


def test_python_errors_mmengine_would_raise(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "a = dict(x=1)\nb = a['missing']\nc = undefined_name\n")
    assert _errors(cfg) == [("LT012", "cfg.py", 2, 5), ("LT012", "cfg.py", 3, 5)]


def test_opaque_value_is_a_warning_and_the_rest_still_resolves(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        _base_ = []
        import numpy as np
        scale = np.sqrt(2.0)
        loss = dict(type='FocalLoss', gamma=2.0, alpha=scale)
        """,
    )
    result = Resolver().resolve(cfg)
    assert [(d.code, d.severity, d.span.line if d.span else 0) for d in result.diagnostics] == [
        ("LT010", Severity.WARNING, 2),
        ("LT010", Severity.WARNING, 3),
    ]
    assert result.cfg is not None
    assert result.cfg["loss"]["gamma"] == 2.0
    assert repr(result.cfg["loss"]["alpha"]) == "<opaque: np.sqrt(2.0)>"


def test_byte_order_mark(write: Callable[..., Path]) -> None:
    # mmengine cannot parse a Python or JSON config that starts with a BOM; YAML is fine.
    assert _errors(write("cfg.py", "\ufeffx = 1\n")) == [("LT001", "cfg.py", 1, 1)]
    assert _errors(write("cfg.json", '\ufeff{"x": 1}\n')) == [("LT001", "cfg.json", 1, 1)]
    assert _errors(write("cfg.yaml", "\ufeffx: 1\n")) == []


def test_repeated_keyword_is_a_syntax_error(write: Callable[..., Path]) -> None:
    # ast.parse accepts it, but Python's compiler (and so mmengine) does not.
    cfg = write("cfg.py", "loss = dict(type='L1Loss', reduction='sum',\n            reduction='none')\n")
    assert _errors(cfg) == [("LT001", "cfg.py", 2, 13)]


def test_many_inherited_diagnostics_are_merged_in_linear_time() -> None:
    import time

    from losstune.loader import codes
    from losstune.loader.resolve import FileResult
    from losstune.model import Span

    def warning(i: int) -> object:
        return codes.diagnostic(codes.OPAQUE_VALUE, f"value {i}", Span("base.py", i, 1, i, 2))

    base = FileResult("base.py", None, [warning(i) for i in range(20_000)], files=["base.py"])
    child = FileResult("child.py", None, [warning(7), warning(-1)], files=["child.py"])
    start = time.perf_counter()
    child.merge_from(base)
    grandchild = FileResult("grand.py", None, [], files=["grand.py"])
    grandchild.merge_from(child)
    grandchild.merge_from(base)
    assert time.perf_counter() - start < 1
    assert len(grandchild.diagnostics) == 20_001 and grandchild.diagnostics[:2] == [warning(7), warning(-1)]
    assert grandchild.files == ["grand.py", "child.py", "base.py"]


@pytest.mark.parametrize(
    "expression",
    ["-" * 100_000 + "1", "+".join(["1"] * 100_000), "not " * 50_000 + "1", "a" + "[0]" * 100_000],
    ids=["unary", "sum", "not", "subscripts"],
)
def test_an_expression_too_deep_for_pythons_parser(write: Callable[..., Path], expression: str) -> None:
    cfg = write("deep.py", f"a = 1\nb = 2\nx = {expression}\ny = 3\n")
    result = Resolver().resolve(cfg)
    [d] = result.diagnostics
    assert d.code == "LT001" and d.span is not None and d.span.line == 3
    assert d.message.startswith("Python cannot parse this file: an expression nests or chains too deeply")
    assert d.message.rstrip().endswith(("(MemoryError)", "(RecursionError)"))


def test_a_diagnostic_is_taken_from_bases_once_even_when_the_list_changes_between_merges() -> None:
    from losstune.loader import codes
    from losstune.loader.resolve import FileResult
    from losstune.model import Span

    def w(i: int) -> object:
        return codes.diagnostic(codes.OPAQUE_VALUE, f"value {i}", Span("base.py", i, 1, i, 2))

    base = FileResult("base.py", None, [w(1), w(2)], files=["base.py"])
    child = FileResult("child.py", None, [w(1)], files=["child.py"])
    child.merge_from(base)
    assert child.diagnostics == [w(1), w(2)]
    child.diagnostics = [w(3)]  # replaced
    child.merge_from(base)
    assert child.diagnostics == [w(3), w(1), w(2)]
    child.diagnostics.pop()  # shortened
    child.merge_from(base)
    assert child.diagnostics == [w(3), w(1), w(2)]
    child.diagnostics.append(w(4))  # grown by someone else
    child.merge_from(FileResult("other.py", None, [w(4), w(5)], files=["other.py"]))
    assert child.diagnostics == [w(3), w(1), w(2), w(4), w(5)]


def test_python_parser_warnings_are_findings_not_stderr(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", 'x = 1\npattern = "\\d+"\ny = 1if x else 2\nmodel = dict(type="{{fileBasename}}")\n')
    code = (
        "import sys; from losstune.loader.resolve import Resolver; "
        "r = Resolver().resolve(sys.argv[1]); "
        "print([(d.code, d.span.line, d.message) for d in r.diagnostics])"
    )
    out = subprocess.run([sys.executable, "-W", "default", "-c", code, str(cfg)], capture_output=True, text=True)
    assert out.stderr == ""
    assert out.stdout.strip() == str(
        [
            ("LT023", 2, "Python warns: invalid escape sequence '\\d'"),
            ("LT023", 3, "Python warns: invalid decimal literal"),
        ]
    )


def test_a_base_chain_deeper_than_the_limit_is_a_finding(write: Callable[..., Path]) -> None:
    for i in range(300):
        write(f"c{i}.py", f"_base_ = './c{i + 1}.py'\nx{i} = {i}\n")
    write("c300.py", "model = dict(type='RetinaNet')\n")
    result = Resolver().resolve(write("top.py", "_base_ = './c0.py'\n"))
    [d] = [d for d in result.diagnostics if d.code == "LT022"]
    assert (
        d.span is not None and Path(d.span.file).name == "c98.py" and d.span.line == 1
    )  # the 100th file of the chain names the 101st
    assert "more than 100 files deep" in d.message

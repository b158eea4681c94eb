"""``SourceText`` converts between offsets into the file's text and 1-based lines and columns, in one
place: every writer and error message that needs a line, a column or where a line starts asks it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losstune.config import origin_at
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText
from losstune.model import Span

TEXT = "a = 1\n\nbé = 'x'  # ü\nlast"


def test_line_col_of_offsets() -> None:
    src = SourceText.plain("cfg.py", TEXT)
    assert src.line_col(0) == (1, 1)
    assert src.line_col(5) == (1, 6)  # the newline ends line 1
    assert src.line_col(6) == (2, 1)
    assert src.line_col(7) == (3, 1)
    assert src.line_col(TEXT.index("'x'")) == (3, 6)
    assert src.line_col(len(TEXT)) == (4, 5)


def test_line_start_and_offsets_of_a_span() -> None:
    src = SourceText.plain("cfg.py", TEXT)
    x = TEXT.index("'x'")
    assert src.line_start(x) == 7
    assert src.line_start(7) == 7 and src.line_start(6) == 6 and src.line_start(5) == 0
    assert src.offsets(Span("cfg.py", 3, 6, 3, 9)) == (x, x + 3)
    assert src.segment(Span("cfg.py", 3, 6, 3, 9)) == "'x'"


def test_positions_are_in_the_files_text_when_templates_change_it() -> None:
    text = "a = '{{$A:long default}}'\nb = 2\n"
    src = SourceText.from_file("cfg.py", text, {"A": "v"})
    b = text.index("b")
    assert src.line_col(b) == (2, 1) and src.offset(2, 1) == b and src.line_start(b + 3) == b


def test_line_text() -> None:
    src = SourceText.plain("cfg.py", TEXT)
    assert [src.line_text(n) for n in range(0, 6)] == ["", "a = 1", "", "bé = 'x'  # ü", "last", ""]
    assert SourceText.plain("e.py", "").line_text(1) == ""
    assert SourceText.plain("n.py", "x\n").line_text(2) == ""


def test_lines_end_where_pythons_do_at_cr_lf_and_crlf(tmp_path: Path) -> None:
    text = "a = 1\rb = dict(x=2)\r\nc = x + 1\nd = 'é'\re = [1][::0]\n"
    src = SourceText.plain("cfg.py", text)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            assert src.line_col(src.offset(node.lineno, node.col_offset + 1)) == (node.lineno, node.col_offset + 1)
            assert (
                src.segment(
                    Span("cfg.py", node.lineno, node.col_offset + 1, node.lineno, node.col_offset + 1 + len(node.id))
                )
                == node.id
            )
    assert [src.line_text(n) for n in range(1, 7)] == [
        "a = 1",
        "b = dict(x=2)",
        "c = x + 1",
        "d = 'é'",
        "e = [1][::0]",
        "",
    ]
    path = tmp_path / "cfg.py"
    path.write_bytes(text.encode())
    result = Resolver().resolve(path)
    spans = [d.span for d in result.diagnostics]
    assert [(s.line, s.column, src.segment(s)) for s in spans if s] == [(3, 5, "x"), (5, 5, "[1][::0]")]
    assert (
        result.cfg is not None
        and (o := origin_at(result.cfg, ("b", "x"))) is not None
        and (o.span.file, o.span.line) == (str(path), 2)
    )


def test_a_lone_cr_before_an_error_is_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "cfg.py"
    path.write_bytes(b"\r_")
    result = Resolver().resolve(path)
    assert [(d.code, d.span.line if d.span else None) for d in result.diagnostics] == [("LT012", 2)]


def _breaks(text: str) -> list[int]:
    """Where each line after the first starts, as Python's tokenizer ends lines (CR LF, CR, LF)."""
    return [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab\né\r\t", max_size=40), st.data())
def test_the_conversions_agree_with_the_text(text: str, data: st.DataObject) -> None:
    src = SourceText.plain("cfg.py", text)
    offset = data.draw(st.integers(0, len(text)))
    starts = [0, *_breaks(text)]
    line, column = src.line_col(offset)
    assert line == sum(1 for s in starts if s <= offset)
    assert src.line_start(offset) == starts[line - 1]
    assert column == offset - src.line_start(offset) + 1
    assert src.offset(line, column) == offset
    lines = re.split(r"\r\n|\r|\n", text)
    assert [src.line_text(n) for n in range(1, len(lines) + 1)] == lines


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("loss = dict(type='FocalLoss', gama=2.0)\n", "2.0"),
        ("loss = {'type': 'FocalLoss', 'gama' :  2.0}\n", "2.0"),
        ('{"loss": {"type": "FocalLoss", "gama": 2.0}}\n', "2.0"),
        ("loss:\n  type: FocalLoss\n  gama:\n    2.0\n", "2.0"),
        ("loss = dict(type='FocalLoss', gama=\n    g)\n", "g"),
    ],
)
def test_key_of_a_value_is_where_its_key_is_written(text: str, value: str) -> None:
    src = SourceText.plain("/x", text)
    start = text.rindex(value)
    span = src.key_of(src.span_original(start, start + len(value)), "gama")
    assert span is not None and src.segment(span) == "gama"


@pytest.mark.parametrize("text", ["loss.update(x=2.0)\n", "loss = dict(omega=2.0)\n", "loss = dict(xgama=2.0)\n"])
def test_a_value_not_written_beside_its_key_has_no_key_span(text: str) -> None:
    src = SourceText.plain("/x", text)
    start = text.rindex("2.0")
    assert src.key_of(src.span_original(start, start + 3), "gama") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab\n\r\t é", max_size=40))
def test_line_starts_are_where_pythons_tokenizer_starts_lines(text: str) -> None:
    src = SourceText.plain("f.py", text)
    expected = [0] + [m.end() for m in re.finditer(r"\r\n?|\n", text)]
    assert src.line_starts == expected
    assert SourceText.from_file("f.py", text).line_starts == expected


TEMPLATED = [
    "a = '{{fileBasename}}'; b = 1\nc = dict(x='{{ $HOME:/x }}', y=2)\nd = [3,\n  4]\n",
    "x = '{{$LT_UNSET_VAR:v}}'\ny = [1,\n '{{_base_.q}}', {{_base_.r}}]\nz = dict(k=1)\n",
    "y = {{\n_base_.q\n}}\nz = [1,\n2]\n",
    "a = '{{fileDirname}}'\r\nb = 2\r\n",
    "a = '{{fileDirname}}' + 'é'\nb = dict(c='{{fileExtname}}')\n",
]


@pytest.mark.parametrize("text", TEMPLATED)
def test_the_span_of_every_node_of_a_templated_file_is_its_place_in_the_file(text: str) -> None:
    from losstune.loader.pyeval import Interpreter
    from losstune.loader.values import LDict

    src = SourceText.from_file("/cfg/a.py", text, {})
    interp = Interpreter(src, LDict(), [])
    for node in ast.walk(ast.parse(src.text)):
        if hasattr(node, "lineno"):
            assert interp.span(node) == interp._locate(node), ast.dump(node)

"""``{{$NAME:default}}`` templates: mmengine's substitution, in linear time, with names, defaults
and values taken literally, and every position mapped back to the file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import losstune
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText, TemplateError


def _sub(text: str, env: dict[str, str] | None = None) -> str:
    return SourceText.from_file("cfg.py", text, env or {}).text


def test_quoted_and_bare_forms() -> None:
    env = {"A": "7", "B": "x/y"}
    assert _sub("a = {{'$A:1'}}\nb = '{{$B:d}}/z'\nc = {{\"$C:2.0\"}}\n", env) == "a = 7\nb = 'x/y/z'\nc = 2.0\n"
    assert _sub("w = '{{ $EXP : retina }}'") == "w = 'retina'"
    # The default is the shortest run of non-space characters before `}}`, as mmengine's lazy `\S*?`.
    assert _sub("x = '{{$A:a}}}}'") == "x = 'a}}'"
    assert _sub("x = '{{$Q:'q'}}'") == "x = ''q'"  # the quote before `}}` is the template's


def test_defaults_with_regular_expression_characters_are_taken_as_written() -> None:
    # mmengine splices the default into a regular expression: `(` and `[` raise re.error, and `+`,
    # `$` or `^` make the template match nothing, so the template text stays in the config.
    # losstune substitutes what the template says.
    assert _sub("a = '{{$A:(}}'") == "a = '('"
    assert _sub("a = '{{$A:[x}}'") == "a = '[x'"
    assert _sub("a = '{{$A:focal+ce}}'") == "a = 'focal+ce'"
    assert _sub("a = '{{$A:^x$}}'") == "a = '^x$'"
    assert _sub("a = '{{$A:a.b}}'\nb = '{{$A:axb}}'") == "a = 'a.b'\nb = 'axb'"


def test_values_are_inserted_as_written() -> None:
    # mmengine passes the value to re.sub as a replacement template: `\1` raises, `\n` becomes a
    # newline and `C:\data` raises "bad escape". The value is the variable's text.
    assert _sub("a = r'{{$A:x}}'", {"A": "\\1"}) == "a = r'\\1'"
    assert _sub("a = r'{{$A:x}}'", {"A": "C:\\new\\data"}) == "a = r'C:\\new\\data'"
    assert _sub("a = '{{$A:x}}'", {"A": "\\g<0>"}) == "a = '\\g<0>'"
    # A value is not scanned for templates again.
    assert _sub("a = '{{$A:x}}'", {"A": "{{$B:1}}"}) == "a = '{{$B:1}}'"


def test_names_are_taken_as_written() -> None:
    assert _sub("a = '{{$A1_b:v}}'", {"A1_b": "w"}) == "a = 'w'"
    with pytest.raises(TemplateError) as e:
        _sub("x = 1\na = '{{$A:}}'\n")
    assert e.value.offset == 11


def test_scan_is_linear_in_the_text() -> None:
    hostile = ["{{$a:" * 40_000, "{{$a:" + "x" * 200_000, "{{ $a : " * 40_000, "{{$" + "a" * 200_000, "{{'" * 60_000]
    for text in hostile:
        start = time.process_time()
        assert _sub(text) == text
        assert time.process_time() - start < 1.0, text[:20]
    many = "x = [" + ", ".join(f"'{{{{$V{i % 50}:{i}}}}}'" for i in range(20_000)) + "]\n"
    start = time.process_time()
    src = SourceText.from_file("cfg.py", many, {})
    assert src.text.startswith("x = ['0', '1', ")
    assert time.process_time() - start < 1.0


def test_positions_after_templates_map_back_to_the_file(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        root = '{{$LT_ROOT:/data/coco}}/{{fileBasename}}'
        loss = dict(type='FocalLoss', gamma={{'$LT_G:2.0'}}, alpha=0.25)
        """,
    )
    c = losstune.load(cfg, env={"LT_G": "1.5"})
    assert c.get("root") == "/data/coco/cfg.py"
    assert c.get("loss.gamma") == 1.5
    gamma, alpha = c.origin("loss.gamma"), c.origin("loss.alpha")
    assert gamma is not None and alpha is not None
    assert (gamma.span.line, gamma.span.column, gamma.span.end_column) == (2, 37, 52)
    assert (alpha.span.line, alpha.span.column, alpha.span.end_column) == (2, 60, 64)


def test_the_file_records_each_template_it_substituted() -> None:
    src = SourceText.from_file("cfg.py", "a = '{{$A:1}}'\nb = {{'$B:2'}}\n", {"B": "3"})
    assert [(t.name, t.default, t.from_env) for t in src.env_templates] == [("A", "1", False), ("B", "2", True)]
    assert [src.original[t.start : t.end] for t in src.env_templates] == ["{{$A:1}}", "{{'$B:2'}}"]
    assert src.env_used == {"B": "3"}


def test_missing_variable_is_reported_where_its_template_is(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "root = '{{fileDirname}}'\nx = '{{$LT_NOPE:}}'\n")
    [d] = [d for d in Resolver(env={}).resolve(cfg).diagnostics if d.code == "LT016"]
    assert d.span is not None and (d.span.line, d.span.column) == (2, 6)


def test_missing_variable_after_a_line_that_ends_in_cr(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", b"root = 1\rx = '{{$LT_NOPE:}}'\n")
    [d] = [d for d in Resolver(env={}).resolve(cfg).diagnostics if d.code == "LT016"]
    assert d.span is not None and (d.span.line, d.span.column) == (2, 6)


# -- mmengine itself, where its regular expressions and the literal reading agree ----------------

_PIECES = st.sampled_from(
    ["{{", "}}", "$", ":", " ", "'", '"', "\n", "A", "B", "x", "1", "_", "{", "}", "/", "=", "\t", "\u00a0", "\u00e9"]
)
_REGEX_SPECIAL = set("\\.^$*+?{}[]|()")


def _mmengine_keys(text: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r"\{\{[\'\"]?\s*\$(\w+)\s*\:\s*(\S*?)\s*[\'\"]?\}\}", text)


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.lists(_PIECES, max_size=40).map("".join),
    env=st.dictionaries(st.sampled_from(["A", "B", "x"]), st.sampled_from(["v", "42", "a/b", ""]), max_size=3),
)
def test_substitution_matches_mmengine(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    config = pytest.importorskip("mmengine.config")
    keys = _mmengine_keys(text)
    # Where mmengine reads a default as a regular expression, the two differ by design (above).
    assume(all(not (_REGEX_SPECIAL & set(default)) for _, default in keys))
    path = tmp_path / "cfg.py"
    path.write_text(text, encoding="utf-8")
    with mock.patch.dict(os.environ, env, clear=False):
        for name in ("A", "B", "x"):
            if name not in env:
                os.environ.pop(name, None)
        try:
            config.Config._substitute_env_variables(str(path), str(path))
        except KeyError:
            with pytest.raises(TemplateError):
                _sub(text, env)
            return
    assert _sub(text, env) == path.read_text(encoding="utf-8")


def test_where_mmengine_reads_a_template_as_a_regular_expression_a_warning_says_so(
    write: Callable[..., Path],
) -> None:
    cfg = write("cfg.py", "a = '{{$LT_A:focal+ce}}'\nb = '{{$LT_B:instances.json}}'\nc = r'{{$LT_C:x}}'\n")
    result = Resolver(env={"LT_C": "C:\\data"}).resolve(cfg)
    assert result.cfg is not None and result.cfg["a"] == "focal+ce" and result.cfg["c"] == "C:\\data"
    found = [(d.code, d.severity.value, d.span.line, d.span.column, d.span.end_column) for d in result.diagnostics]
    assert found == [("LT019", "warning", 1, 6, 24), ("LT019", "warning", 3, 7, 18)]
    assert "`focal+ce`" in result.diagnostics[0].message and "`+`" in result.diagnostics[0].message
    assert "`$LT_C`" in result.diagnostics[1].message and "C:" not in result.diagnostics[1].message

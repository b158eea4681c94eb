"""What CPython does with a config file is the reference: a statement its compiler refuses makes
the file a syntax error (with the compiler's message and line, found without running anything),
a ``raise`` fails at run time in Python's words, and ``:=`` binds where Python binds it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from losstune.loader.resolve import Resolver
from losstune.loader.values import Opaque, to_plain
from losstune.model import Severity

# Each parses (ast.parse accepts it); compile() refuses it.
REFUSED = [
    "x = 1\nreturn x\n",
    "return\n",
    "nonlocal x\n",
    "x = 1\nglobal x\n",
    "x = 1\nif x:\n    global x\n",
    "yield 1\n",
    "x = yield\n",
    "x = (yield from [1])\n",
    "await x\n",
    "x = [await y for y in z]\n",
    "x = [y async for y in z]\n",
    "break\n",
    "if True:\n    continue\n",
    "for i in []:\n    pass\nelse:\n    break\n",
    "x = dict(a=1,\n         a=2)\n",
    "*a = [1]\n",
    "a, *b, *c = [1, 2, 3]\n",
    "x = 1\nfrom __future__ import annotations\n",
    "from __future__ import braces\n",
    "__debug__ = 1\n",
    "def f(a, a):\n    pass\n",
    "def f():\n    from os import *\n",
    "def f():\n    x = 1\n    global x\n",
    "class A:\n    y = [z := 1 for i in range(3)]\n",
    "x = [i := 0 for i in range(2)]\n",
    "x = [[(j := 1) for j in range(2)] for i in range(2)]\n",
    "x = [y for y in (z := [1])]\n",
    "match x:\n    case a:\n        pass\n    case 1:\n        pass\n",
    "f = lambda: (await x)\nx = 1\n",
    "async def f():\n    yield 1\n    return 2\n",
]


def _compiler_says(source: str) -> tuple[str, int]:
    try:
        compile(source, "cfg.py", "exec", dont_inherit=True)  # compiled, never run
    except SyntaxError as e:
        return e.msg, e.lineno or 0
    raise AssertionError(f"compile() accepts {source!r}")


@pytest.mark.parametrize("source", REFUSED, ids=lambda s: s[:40])
def test_what_the_compiler_refuses_is_a_syntax_error_in_its_words(write: Callable[..., Path], source: str) -> None:
    message, line = _compiler_says(source)
    result = Resolver().resolve(write("cfg.py", source))
    found = [(d.code, d.span.line if d.span else 0, d.message) for d in result.diagnostics]
    # One finding, the compiler's: nothing of the file was evaluated.
    assert found == [("LT001", line, f"Python syntax error: {message}")]


def test_the_compiler_refusal_names_the_column_too(write: Callable[..., Path]) -> None:
    [d] = Resolver().resolve(write("cfg.py", "model = dict(\n    a=1,\n    a=2)\n")).diagnostics
    assert d.span is not None and (d.code, d.span.line, d.span.column) == ("LT001", 3, 5)
    assert d.message == "Python syntax error: keyword argument repeated: a"


def test_a_late_future_import_is_refused_after_many_literal_assignments(write: Callable[..., Path]) -> None:
    source = "".join(f"x{i} = {i}\n" for i in range(50)) + "from __future__ import annotations\n"
    [d] = Resolver().resolve(write("cfg.py", source)).diagnostics
    assert d.span is not None and (d.code, d.span.line) == ("LT001", 51)
    assert d.message == "Python syntax error: from __future__ imports must occur at the beginning of the file"


def test_a_global_after_a_literal_assignment_is_refused(write: Callable[..., Path]) -> None:
    [d] = Resolver().resolve(write("cfg.py", "a = 1\nb = 2\nglobal a\n")).diagnostics
    assert d.span is not None and (d.code, d.span.line) == ("LT001", 3)
    assert d.message == "Python syntax error: name 'a' is assigned to before global declaration"


def test_what_the_compiler_warns_is_a_warning(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "x = 1\ny = x is 1\n"))
    assert [(d.code, d.span.line if d.span else 0) for d in result.diagnostics] == [("LT023", 2)]
    assert result.diagnostics[0].message == 'Python warns: "is" with a literal. Did you mean "=="?'


def test_literal_assignments_are_left_out_of_the_compile_check_only_where_nothing_depends_on_them(
    write: Callable[..., Path],
) -> None:
    from losstune.loader import pycompile, pysource

    # What leaving them out saves is in benchmarks/bench_interpreter.py; here, that it refuses
    # the same files: a late __future__ import after literal assignments is still found.
    text = "".join(f"x{i} = {i}\n" for i in range(2000))
    module, _ = pysource.parse(text)
    assert pycompile.check(module, text, "cfg.py") == []
    late = text + "from __future__ import annotations\n"
    module, _ = pysource.parse(late)
    with pytest.raises(SyntaxError, match="from __future__ imports must occur at the beginning"):
        pycompile.check(module, late, "cfg.py")


# A `raise` compiles and fails when it runs: an evaluation error in Python's words.
RAISES = [
    "raise ValueError('boom')\n",
    "raise KeyError('a')\n",
    "raise ValueError\n",
    "raise RuntimeError()\n",
    "raise TypeError('a', 2)\n",
    "raise\n",
    "raise 5\n",
    "raise ValueError(a=1)\n",
    "x = 'bad'\nif x:\n    raise ValueError(f'{x} value')\n",
    "raise ValueError('chained') from KeyError('k')\n",
]


def _python_raises(source: str) -> tuple[str, int]:
    try:
        exec(compile(source, "cfg.py", "exec", dont_inherit=True), {})  # the test's own literal source
    except Exception as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        text = str(e)
        return (f"{type(e).__name__}: {text}" if text else type(e).__name__), tb.tb_lineno if tb else 0
    raise AssertionError(f"{source!r} does not raise")


@pytest.mark.parametrize("source", RAISES, ids=lambda s: s[:40])
def test_a_raise_fails_as_python_says(write: Callable[..., Path], source: str) -> None:
    message, line = _python_raises(source)
    result = Resolver().resolve(write("cfg.py", source + "y = 1\n"))
    found = [(d.code, d.severity, d.span.line if d.span else 0, d.message) for d in result.diagnostics]
    expected = f"{message} (mmengine would fail to load this config here)"
    assert found == [("LT012", Severity.ERROR, line, expected)]
    assert result.cfg is not None and result.cfg["y"] == 1


def test_raising_an_exception_losstune_does_not_know_is_an_error_too(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "from mypkg import Problem\nraise Problem('x')\n"))
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert [(d.code, d.span.line if d.span else 0) for d in errors] == [("LT012", 2)]
    assert (
        errors[0].message == "`raise Problem('x')` raises an exception (mmengine would fail to load this config here)"
    )


def test_a_raise_in_a_branch_not_taken_does_nothing(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "x = 0\nif x:\n    raise ValueError('no')\ny = 1\n"))
    assert result.diagnostics == [] and result.cfg is not None and result.cfg["y"] == 1


# `:=` binds in the scope holding the expression; in a comprehension, the scope around it.
WALRUS = [
    "x = [y := 10, y ** 2]",
    "x = {'a': (y := 2), 'b': y + 1}",
    "x = dict(a=(y := 3), b=y * 2)",
    "x = [(last := i) * 2 for i in range(3)], last",
    "x = [[(z := i * j) for j in range(3)] for i in range(3)], z",
    "x = [y for i in range(5) if (y := i * i) > 3], y",
    "x = {k: (v := k * 2) for k in range(3)}, v",
    "a = [1, 2, 3, 4]\nif (n := len(a)) > 3:\n    x = n\nelse:\n    x = 0",
    "a = [1, 2]\nif (n := len(a)) > 3:\n    x = n\nelse:\n    x = -n",
    "for i in range(3):\n    total = (s := i) + 1\nx = s, total",
]


def _python_names(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "cfg.py", "exec", dont_inherit=True), namespace)  # the test's own literal source
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


@pytest.mark.parametrize("source", WALRUS)
def test_the_walrus_binds_where_python_binds(write: Callable[..., Path], source: str) -> None:
    expected = _python_names(source)
    result = Resolver().resolve(write("cfg.py", source + "\n"))
    assert result.diagnostics == []
    assert result.cfg is not None
    assert {k: to_plain(v) for k, v in result.cfg.items()} == expected


def test_a_walrus_in_a_statement_stopped_half_way_is_unknown(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "x = [(y := i) for i in range(10**6)]\nok = 1\n"))
    assert result.cfg is not None
    assert isinstance(result.cfg["x"], Opaque) and isinstance(result.cfg["y"], Opaque)
    assert result.cfg["ok"] == 1


# Statements of the kinds the compile check leaves out (names bound to calls, dicts, lists,
# tuples, sets, attributes, arithmetic of those) that the compiler still refuses or warns about.
LEFT_OUT_LOOKALIKES = [
    "model = dict(a=1, b=dict(c=1, c=2))\n",
    "x = f(__debug__=1)\n",
    "__debug__ = dict(a=1)\n",
    "x = [dict(a=1), g(b=2, b=3)]\n",
    "x = (1, 2)(3)\n",
    "x = [1, 2](0)\n",
    "x = dict(a=1 is 1)\n",
    "x = {'a': (lambda: (yield))}\n",
    "x = [f(y) for y in z]\n",
    "x = f(*a, b=(yield))\n",
    "x = -(await y)\n",
    "x = {dict(a=1, a=2)}\n",
    "x = {{_base_.y}, (1)(2)}\n",
    "x = {*a, f(__debug__=1)}\n",
    "x = a." + ".".join(["b"] * 60) + "\n",
    "x = " + "f(" * 60 + ")" * 60 + "\n",
]


@pytest.mark.parametrize("source", LEFT_OUT_LOOKALIKES, ids=lambda s: s[:40])
def test_the_compile_check_gives_what_compiling_the_whole_file_gives(source: str) -> None:
    import warnings

    from losstune.loader import pycompile, pysource

    text = "a = dict(type='X', n=[1, 2.0, (3,)], m={'k': v}, o=-1, p=2 * q + r.s)\n" + source
    module, _ = pysource.parse(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compile(text, "cfg.py", "exec", dont_inherit=True)  # compiled, never run
            want: object = [str(w.message) for w in caught]
        except SyntaxError as e:
            want = (e.msg, e.lineno)
    try:
        got: object = [w.message for w in pycompile.check(module, text, "cfg.py")]
    except SyntaxError as e:
        got = (e.msg, e.lineno)
    assert got == want


def test_only_statements_that_cannot_fail_are_left_out_of_the_compile_check() -> None:
    from losstune.loader import pycompile, pysource

    text = (
        "a = dict(type='X', n=[1, (3,)], m={'k': v, **w}, o=-1, p=2 * q + r.s, t=f(*u))\n"
        "b = c = g(x, y=1, **z)\n"
        "d = [h(i) for i in j]\n"
        "e = k[0]\n"
        "m.n = 1\n"
    )
    module, _ = pysource.parse(text)
    kept = [stmt.lineno for stmt in module.body if not pycompile.cannot_fail(stmt)]
    assert kept == [3, 4, 5]

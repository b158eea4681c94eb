"""Property-based fuzzing of the interpreter: config programs generated from the constructs it
reads end in a value or in diagnostics, never in an internal error, and within a time bound."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losstune
from losstune.loader.pybuiltins import BUILTIN_FUNCTIONS
from losstune.model import ConfigError

NAMES = ["x", "y", "d", "l", "s", "n", "model", "i"]
# Every generated program starts from these names, so that more of it evaluates.
PREAMBLE = "x = 1\ny = 2.5\nd = dict(a=1, b=[1, 2])\nl = [1, 'a', None]\ns = 'ab'\nn = 3\ni = 0\nmodel = dict(a=d)\n"
CPU_BOUND = 3.0  # seconds for one generated file; the budget keeps each far below

_ints = st.one_of(
    st.integers(-3, 20).map(str),
    st.sampled_from(["10**6", "10**9", "2**100", "10**5000", "10**100000", "-1", "0"]),
)
_floats = st.sampled_from(["0.5", "1e300", "-2.0", "float('inf')", "float('nan')", "1.0 / 9.0"])
_strings = st.sampled_from(
    ["'a'", "'ab\\tc'", "''", "'{}'", "'{:>9}'", "'{0}{a}'", "'%s %d'", "'%(a)s'", "'{'", "'x' * 3", '"{{_base_.x}}"']
)
_atoms = st.one_of(
    _ints,
    _floats,
    _strings,
    st.sampled_from([*NAMES, "None", "True", "False", "_base_", "_base_.x", "_base_.model", "{{_base_.x}}"]),
)
_binops = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@"])
_compares = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"])
_methods = st.sampled_from(
    [
        "format",
        "format_map",
        "join",
        "replace",
        "split",
        "center",
        "zfill",
        "expandtabs",
        "upper",
        "append",
        "extend",
        "insert",
        "pop",
        "index",
        "count",
        "sort",
        "copy",
        "update",
        "get",
        "setdefault",
        "keys",
        "items",
        "values",
        "merge",
        "bit_length",
        "hex",
        "real",
    ]
)
_functions = st.sampled_from([*BUILTIN_FUNCTIONS, "dict", "print", "open", "getattr", "osp.join", "copy.deepcopy"])


def _fstring(parts: tuple[str, str, str]) -> str:
    inner, conversion, spec = parts
    if "\\" in inner or "'''" in inner or "{{" in inner:
        inner = "x"  # not allowed inside the braces of an f-string before Python 3.12
    return "f'''{" + inner + conversion + spec + "}'''"


def _expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    args = st.lists(children, max_size=3).map(", ".join)
    kwargs = st.lists(st.tuples(st.sampled_from(["a", "b", "type", "start"]), children), max_size=2).map(
        lambda kv: ", ".join(f"{k}={v}" for k, v in kv)
    )
    return st.one_of(
        st.tuples(children, _binops, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "+", "not ", "~"]), children).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(children, _compares, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        args.map(lambda a: f"[{a}]"),
        args.map(lambda a: f"({a},)" if a else "()"),
        args.map(lambda a: f"{{{a}}}" if a else "set()"),
        st.lists(st.tuples(children, children), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
        ),
        st.tuples(children, children).map(lambda t: f"{{**{t[0]}, 'k': {t[1]}}}"),
        st.tuples(children, children).map(lambda t: f"[*{t[0]}, {t[1]}]"),
        st.tuples(children, children).map(lambda t: f"({t[0]})[{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"({t[0]})[{t[1]}:{t[1]}:{t[1]}]"),
        st.tuples(children, _methods, args).map(lambda t: f"({t[0]}).{t[1]}({t[2]})"),
        st.tuples(children, _methods).map(lambda t: f"({t[0]}).{t[1]}"),
        st.tuples(_functions, args, kwargs).map(lambda t: f"{t[0]}({', '.join(p for p in t[1:] if p)})"),
        st.tuples(children, children, children).map(lambda t: f"[{t[0]} for i in {t[1]} if {t[2]}]"),
        st.tuples(children, children).map(lambda t: f"{{i: {t[0]} for i in {t[1]}}}"),
        st.tuples(children, children, children).map(lambda t: f"[{t[0]} for i in {t[1]} for j in {t[2]}]"),
        st.tuples(children, st.sampled_from(["", "!r", "!s", "!a"]), st.sampled_from(["", ":>5", ":.3f", ":{x}"])).map(
            _fstring
        ),
        st.tuples(_strings, children).map(lambda t: f"({t[0]} % {t[1]})"),
        st.tuples(_strings, args).map(lambda t: f"{t[0]}.format({t[1]})"),
    )


_expr = st.recursive(_atoms, _expressions, max_leaves=12)
_target = st.one_of(
    st.sampled_from(NAMES),
    st.tuples(st.sampled_from(NAMES), _expr).map(lambda t: f"{t[0]}[{t[1]}]"),
    st.sampled_from(["model.x", "_base_.model.x", "x, y", "x, *y", "d['a']"]),
)


def _statements(depth: int) -> st.SearchStrategy[str]:
    simple = st.one_of(
        st.tuples(_target, _expr).map(lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(st.sampled_from(NAMES), _binops, _expr).map(lambda t: f"{t[0]} {t[1]}= {t[2]}"),
        _expr,
        st.sampled_from(NAMES).map(lambda n: f"del {n}"),
        st.sampled_from(
            [
                "import math",
                "import copy",
                "import os.path as osp",
                "from copy import deepcopy",
                "import sys",
                "import numpy as np",
                "import math, copy, sys",
                "pass",
                "break",
                "continue",
                "def f(): pass",
                "assert x",
            ]
        ),
    )
    if depth == 0:
        return simple
    body = st.lists(_statements(depth - 1), min_size=1, max_size=3)
    return st.one_of(
        simple,
        st.tuples(st.sampled_from(NAMES), _expr, body).map(
            lambda t: f"for {t[0]} in {t[1]}:\n" + "".join(f"    {line}\n" for s in t[2] for line in s.splitlines())
        ),
        st.tuples(_expr, body, body).map(
            lambda t: (
                f"if {t[0]}:\n"
                + "".join(f"    {line}\n" for s in t[1] for line in s.splitlines())
                + "else:\n"
                + "".join(f"    {line}\n" for s in t[2] for line in s.splitlines())
            )
        ),
    )


_programs = st.tuples(st.booleans(), st.lists(_statements(2), min_size=1, max_size=8))


def _check(program: str, with_base: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "base.py").write_text("x = 1\nmodel = dict(x=1, loss=dict(type='FocalLoss'))\n", encoding="utf-8")
        path = root / "cfg.py"
        path.write_text(("_base_ = './base.py'\n" if with_base else "") + PREAMBLE + program + "\n", encoding="utf-8")
        start = time.process_time()
        try:
            cfg = losstune.load(path, strict=False)
        except ConfigError as e:
            assert e.diagnostics and all(d.span is not None for d in e.diagnostics)
        else:
            # What the config resolved to can be walked, copied and located.
            cfg.to_dict()
            cfg.losses()
            assert all(d.span is not None and d.span.file for d in cfg.diagnostics if d.code.startswith("LT0"))
        spent = time.process_time() - start
        assert spent < CPU_BOUND, f"{spent:.2f} s of CPU"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_programs)
def test_generated_configs_end_in_a_value_or_diagnostics(case: tuple[bool, list[str]]) -> None:
    with_base, statements = case
    _check("\n".join(statements), with_base)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_end_in_diagnostics(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cfg.py"
        path.write_bytes(data)
        try:
            losstune.load(path, strict=False)
        except ConfigError as e:
            assert e.diagnostics

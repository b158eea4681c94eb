"""The interpreter's budget: a hostile config is answered quickly, at the expression that
crosses a limit, and the rest of the file still resolves."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.loader import codes
from losstune.loader.budget import Budget, Limits, measure
from losstune.loader.pyeval import Interpreter
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import Opaque
from losstune.model import Severity

# A hostile input is answered in well under a second of CPU; the bound leaves room for a slow
# machine.
CPU_BOUND = 1.5
TAIL = "model = dict(loss=dict(type='FocalLoss', gamma=2.0))\n"

# source -> (code, line, a fragment of the message)
HOSTILE: dict[str, tuple[str, int, str]] = {
    "for i in range(10**5):\n    for j in range(10**5):\n        pass\n": (
        "LT022",
        1,
        "more than 100,000 evaluation steps",
    ),
    "x = [x for x in range(10**6) for y in range(10**6) if False]\n": ("LT022", 1, "evaluation steps"),
    "x = (10**1000)**10000\n": ("LT022", 1, "an integer of about 33,210,000 bits"),
    "x = pow(10**10000, 10000)\n": ("LT022", 1, "an integer of about"),
    "x = pow(3, 10**4000, 10**4000)\n": ("LT022", 1, "evaluation steps"),
    "x = 3\nfor i in range(100):\n    x = x * x\n": ("LT022", 3, "`x * x`"),
    "x = 7\nfor i in range(10**6):\n    x = x << 1000\n": ("LT022", 3, "bits"),
    "x = round(5, -10**9)\n": ("LT022", 1, "bits"),
    "x = sum([[1]] * 10**5, [])\n": ("LT022", 1, "evaluation steps"),
    "x = [[[x] * 1000 for x in range(1000)] for y in range(1000)]\n": ("LT022", 1, "evaluation steps"),
    "x = [[0] * 1000] * 1000 * 1000\n": ("LT022", 1, "`x` is too large to resolve"),
    "x = str([[0] * 10**6] * 10**6)\n": ("LT022", 1, ""),
    "x = str([[0] * 1000] * 1000)\n": ("LT022", 1, "it builds a string of 26,004,002 characters"),
    "x = ''.join(['x' * 10**6] * 10**6)\n": ("LT022", 1, ""),
    "s = 'a' * 1000\nfor i in range(10):\n    s = s.replace('a', s)\n": ("LT022", 3, "a string of 1,000,000,000,000"),
    "x = 'a\\tb'.expandtabs(10**8)\n": ("LT022", 1, "a string of 100,000,003 characters"),
    "x = 'ab'.center(10**9)\n": ("LT022", 1, "a string of 1,000,000,000 characters"),
    "s = 'a'\nfor i in range(64):\n    s = s + s\n": ("LT022", 3, "a string of 1,048,576 characters"),
    "s = [1]\nfor i in range(64):\n    s += s\n": ("LT022", 3, "a list of 1,048,576 elements"),
    "s = [1]\nfor i in range(64):\n    s.extend(s)\n": ("LT022", 3, "a list of 1,048,576 elements"),
    "x = '{:>2000000000}'.format(1)\n": ("LT022", 1, "a string of 2,000,000,000 characters"),
    "x = '{:{}}'.format(1, 2000000000)\n": ("LT022", 1, "a string of 2,000,000,000 characters"),
    "x = '{:.2000000000f}'.format(1.0)\n": ("LT022", 1, "characters"),
    "x = f'{1:>2000000000}'\n": ("LT022", 1, "a string of 2,000,000,000 characters"),
    "x = '%2000000000d' % 1\n": ("LT022", 1, "characters"),
    "x = '%.2000000000f' % 1.0\n": ("LT022", 1, "characters"),
    "x = '%*d' % (2000000000, 1)\n": ("LT022", 1, "characters"),
    "x = ('%999999d' * 1000) % tuple(range(1000))\n": ("LT022", 1, "characters"),
    "x = 'ab' * 10**9\n": ("LT022", 1, "a string of 2,000,000,000 characters"),
    "x = list(range(10**9))\n": ("LT022", 1, "a list of 1,000,000,000 elements"),
    "x = sum(range(10**12))\n": ("LT022", 1, "goes through 1,000,000,000,000 elements"),
    "x = [1]\nfor i in x:\n    x.append(i)\n": ("LT022", 2, "evaluation steps"),
    "d = dict(a=1)\nfor i in range(60):\n    d = dict(a=d, b=d)\n": ("LT022", 3, "6,917,529,027,641,081,853 values"),
    "d = [1]\nfor i in range(60):\n    d = [d, d]\n": ("LT022", 3, "3,458,764,513,820,540,927 values"),
    "x = 1\nfor i in range(20000):\n    x = [x]\n": ("LT022", 3, "nested more than 100 levels deep"),
    "x = 'x' * 10**6\ny = [x] * 100\n": ("LT022", 2, "characters of text"),
}


def _resolve(path: Path) -> tuple[float, list[tuple[str, int, str]], object]:
    start = time.process_time()
    result = Resolver().resolve(path)
    spent = time.process_time() - start
    found = [(d.code, d.span.line if d.span else 0, d.message) for d in result.diagnostics]
    assert result.cfg is not None
    return spent, found, result.cfg.get("model")


@pytest.mark.parametrize("source", list(HOSTILE))
def test_hostile_input_is_stopped_early_at_its_expression(write: Callable[..., Path], source: str) -> None:
    code, line, fragment = HOSTILE[source]
    spent, found, model = _resolve(write("cfg.py", source + TAIL))
    assert spent < CPU_BOUND, f"{spent:.2f} s of CPU"
    assert any(c == code and n == line and fragment in m for c, n, m in found), found
    # The rest of the config still resolves.
    assert model == {"loss": {"type": "FocalLoss", "gamma": 2.0}}


def test_the_diagnostic_names_the_expression_and_the_limit(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "x = 1\ny = 'ab' * 10**9\n"))
    [d] = result.diagnostics
    assert (d.code, d.name, d.severity) == ("LT022", "too-expensive", Severity.ERROR)
    assert d.span is not None
    assert (Path(d.span.file).name, d.span.line, d.span.column, d.span.end_column) == ("cfg.py", 2, 5, 17)
    assert d.message == (
        "`'ab' * 10**9` is too expensive to evaluate statically: it builds a string of 2,000,000,000 characters "
        "(losstune builds at most 1,000,000); its value is unknown to losstune"
    )
    assert result.cfg is not None and isinstance(result.cfg["y"], Opaque) and result.cfg["x"] == 1


def test_after_the_steps_run_out_the_rest_of_the_file_gets_a_tenth_more(write: Callable[..., Path]) -> None:
    loop = "for i in range(10**6):\n    n = i\n"
    result = Resolver().resolve(write("cfg.py", "a = 1\n" + loop + "b = 2\n" + loop + "c = 3\n"))
    assert result.cfg is not None
    assert (result.cfg["a"], result.cfg["b"]) == (1, 2)
    # The first loop is stopped as a whole (its name is unknown, not its last value), the second
    # spends the rest; nothing after it is evaluated.
    assert isinstance(result.cfg["n"], Opaque) and isinstance(result.cfg["c"], Opaque)
    assert [(d.code, d.span.line if d.span else 0) for d in result.diagnostics] == [("LT022", 2), ("LT022", 5)]
    assert "nothing after it is evaluated" in result.diagnostics[1].message


def test_a_statement_stopped_half_way_leaves_no_half_changed_name(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(
        write("cfg.py", "d = {}\nl = []\nfor i in range(10**6):\n    d[i] = i\n    l.append(i)\nok = 1\n")
    )
    assert result.cfg is not None
    assert isinstance(result.cfg["d"], Opaque) and isinstance(result.cfg["l"], Opaque)
    assert result.cfg["ok"] == 1


def test_a_loop_error_is_reported_once(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "d = {}\nfor i in range(1000):\n    x = d['missing']\n"))
    assert [(d.code, d.span.line if d.span else 0) for d in result.diagnostics] == [("LT012", 3)]


def test_placeholders_of_a_large_base_value_are_bounded_too(write: Callable[..., Path]) -> None:
    write("base.py", "big = list(range(400000))\n")
    spent, found, model = _resolve(write("cfg.py", "_base_ = './base.py'\na = [{{_base_.big}}] * 100\n" + TAIL))
    assert spent < CPU_BOUND
    assert [(c, n) for c, n, _ in found] == [("LT022", 2)]
    assert "40,000,101 values" in found[0][2]
    assert model is not None


def test_the_names_of_a_file_are_bounded_together(write: Callable[..., Path]) -> None:
    source = "".join(f"x{i} = list(range(200000))\n" for i in range(3))
    result = Resolver().resolve(write("cfg.py", source))
    assert result.cfg is not None
    assert [len(result.cfg[f"x{i}"]) for i in range(2)] == [200000, 200000]
    assert isinstance(result.cfg["x2"], Opaque)
    [d] = result.diagnostics
    assert (d.code, d.span.line if d.span else 0) == ("LT022", 3) and "with the names before it" in d.message


def test_copying_a_shared_value_into_a_config_dict_is_bounded(write: Callable[..., Path]) -> None:
    write("base.py", "model = dict(x=1)\n")
    source = (
        "_base_ = './base.py'\nd = [1]\nfor i in range(40):\n    d = [d, d]\n_base_.model.y = d\nmodel = _base_.model\n"
    )
    spent, found, _ = _resolve(write("cfg.py", source))
    assert spent < CPU_BOUND
    assert ("LT022", 5) in [(c, n) for c, n, _ in found]


def test_limits_are_a_dataclass_with_documented_defaults() -> None:
    limits = Limits()
    assert (limits.steps, limits.length, limits.int_bits, limits.values, limits.text, limits.depth) == (
        100_000,
        1_000_000,
        14_000,
        500_000,
        10_000_000,
        100,
    )
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for figure in ("100,000 evaluation steps", "1,000,000 elements", "14,000 bits", "500,000 values", "100 levels"):
        assert figure in readme


def test_a_smaller_budget_stops_earlier() -> None:
    diagnostics: list = []
    source = "x = [i for i in range(50)]\ny = 1\n"
    import ast

    Interpreter(SourceText.plain("cfg.py", source), None, diagnostics, budget=Budget(Limits(steps=40))).run(
        ast.parse(source)
    )
    assert [d.code for d in diagnostics] == [codes.TOO_EXPENSIVE.code]


def test_shared_structure_is_measured_by_identity() -> None:
    d: object = {"a": 1}
    for _ in range(60):
        d = {"a": d, "b": d}
    start = time.process_time()
    extent = measure(d)
    assert time.process_time() - start < 0.05
    assert extent.complete and extent.values == 3 * 2**61 - 3 and extent.depth == 61 and not extent.cyclic
    loop: list[object] = []
    loop.append(loop)
    assert measure({"v": loop}).cyclic
    assert measure([[0] * 1000] * 1000 * 1000).complete is False


def test_real_configs_take_a_small_part_of_the_budget(write: Callable[..., Path]) -> None:
    # The largest MMDetection configs (ODinW, 35 datasets of class lists) take about 1,600 steps.
    classes = ", ".join(f"'class_{i}'" for i in range(1203))
    source = f"classes = ({classes},)\nnum = len(classes)\nweights = [1.0] * num + [0.1]\n"
    budget = Budget()
    import ast

    Interpreter(SourceText.plain("cfg.py", source), None, [], budget=budget).run(ast.parse(source))
    assert budget.steps < Limits().steps // 50


def test_an_integer_too_long_to_print_is_refused_and_explain_still_runs(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        "model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=80,\n"
        "    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=10**5000, loss_weight=1.0)))\n",
    )
    out = subprocess.run(
        [sys.executable, "-m", "losstune", "explain", "--no-steps", str(cfg)], capture_output=True, text=True
    )
    assert "internal error" not in out.stderr, out.stderr
    assert out.returncode == 2 and "error[LT022] too-expensive: `10**5000`" in out.stderr
    result = Resolver().resolve(cfg)
    assert [(d.code, d.span.line if d.span else 0) for d in result.diagnostics if d.code == "LT022"] == [("LT022", 2)]


def test_many_plain_statements_past_the_budget_are_not_evaluated() -> None:
    # 30,000 assignments on a budget of 10,000 steps: 5,000 are evaluated, the rest are not
    # evaluated and their names are unknown. What this costs is in benchmarks/bench_interpreter.py.
    source = "".join(f"x{i} = {i}\n" for i in range(30000))
    interp = Interpreter(SourceText.plain("cfg.py", source), None, [], budget=Budget(Limits(steps=10_000)))
    names = interp.run(ast.parse(source))
    assert isinstance(names, dict) and len(names) == 30000 and isinstance(names["x29999"], Opaque)
    assert names["x0"] == 0


def test_names_not_evaluated_are_unknown_where_the_steps_ran_out(write: Callable[..., Path]) -> None:
    loop = "for i in range(10**6):\n    n = i\n"
    result = Resolver().resolve(write("cfg.py", loop + loop + "c = 3\nd, e = 4, 5\n"))
    assert result.cfg is not None
    for name in ("n", "c", "d", "e"):
        value = result.cfg[name]
        assert isinstance(value, Opaque) and value.text == name
        assert value.reason == "not evaluated: the file's evaluation steps are spent"
    # The second loop spent the steps; what comes after it points there, with the reason.
    assert [v.span.line if v.span else 0 for v in (result.cfg["c"], result.cfg["e"])] == [3, 3]
    assert result.diagnostics[-1].span is not None and result.diagnostics[-1].span.line == 3

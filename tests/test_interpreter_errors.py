"""Python's own behaviour is the reference: what Python raises is an error diagnostic at its
file and line, in Python's words; what Python runs, the interpreter runs to the same value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from losstune.loader.resolve import Resolver
from losstune.loader.values import Opaque, to_plain
from losstune.model import Severity

# source -> (code, line, the message, as Python words it)
FAILS: dict[str, tuple[str, int, str]] = {
    "x = {[1]}\n": ("LT012", 1, "TypeError: unhashable type: 'list'"),
    "x = {[i]: 1 for i in range(2)}\n": ("LT012", 1, "TypeError: unhashable type: 'list'"),
    "d = {}\nd[[1]] = 2\n": ("LT012", 2, "TypeError: unhashable type: 'list'"),
    "x = dict().update(5)\n": ("LT012", 1, "TypeError: 'int' object is not iterable"),
    "x = dict().update([1])\n": (
        "LT012",
        1,
        "TypeError: cannot convert dictionary update sequence element #0 to a sequence",
    ),
    "x = dict().setdefault()\n": ("LT012", 1, "TypeError: setdefault expected at least 1 argument, got 0"),
    "x = {}.pop()\n": ("LT012", 1, "TypeError: pop expected at least 1 argument, got 0"),
    "x = {}.keys(1)\n": ("LT012", 1, "TypeError: dict.keys() takes no arguments (1 given)"),
    "d = dict(a=1, b=2)\nfor k in d:\n    d[k + 'x'] = 1\n": (
        "LT012",
        2,
        "RuntimeError: dictionary changed size during iteration",
    ),
    "x = [1][::0]\n": ("LT012", 1, "ValueError: slice step cannot be zero"),
    "x = [1] @ [2]\n": ("LT012", 1, "TypeError: unsupported operand type(s) for @: 'list' and 'list'"),
    "x = '{'.format(1)\n": ("LT012", 1, "ValueError: Single '{' encountered in format string"),
    "x = '{}'.format()\n": ("LT012", 1, "IndexError: Replacement index 0 out of range for positional args tuple"),
    "x = '{a}'.format(b=1)\n": ("LT012", 1, "KeyError: 'a'"),
    "x = '{:d}'.format('s')\n": ("LT012", 1, "ValueError: Unknown format code 'd' for object of type 'str'"),
    "x = '%(a)s' % {'b': 1}\n": ("LT012", 1, "KeyError: 'a'"),
    "x = '%d %d' % (1,)\n": ("LT012", 1, "TypeError: not enough arguments for format string"),
    "x = f'{10**5000!s}'\n": ("LT022", 1, "an integer of about 15,000 bits (losstune computes at most 14,000)"),
    "a = []\na.append(a)\nb = []\nb.append(b)\nx = a == b\n": (
        "LT012",
        5,
        "RecursionError: maximum recursion depth exceeded in comparison",
    ),
    "a = []\na.append(a)\nx = dict(v=a)\n": ("LT012", 3, "RecursionError: `x` contains itself"),
    "x = dict(**{1: 2})\n": ("LT012", 1, "TypeError: keywords must be strings"),
    "x = dict(a=1, **{'a': 2})\n": ("LT012", 1, "TypeError: dict() got multiple values for keyword argument 'a'"),
    "x = dict(**dict(a=1), a=2)\n": ("LT012", 1, "TypeError: dict() got multiple values for keyword argument 'a'"),
    # `dict` rebound, at the top level or in a comprehension, is no longer the built-in.
    "dict = list\nx = dict(a=1)\n": ("LT012", 2, "TypeError: list() takes no keyword arguments"),
    "x = [dict(b=k) for dict in [set] for k in [1]]\n": ("LT012", 1, "TypeError: set() takes no keyword arguments"),
    "x = [1] + {}\n": ("LT012", 1, 'TypeError: can only concatenate list (not "dict") to list'),
    "x = {}.copy(1)\n": ("LT012", 1, "TypeError: dict.copy() takes no arguments (1 given)"),
    "x = {} < {}\n": ("LT012", 1, "TypeError: '<' not supported between instances of 'dict' and 'dict'"),
    "x = (1).foo\n": ("LT012", 1, "AttributeError: 'int' object has no attribute 'foo'"),
    "x = 1 / 0\n": ("LT012", 1, "ZeroDivisionError: division by zero"),
    "x = int('1' * 5000)\n": ("LT012", 1, "ValueError: Exceeds the limit (4300 digits)"),
    "x = undefined\n": ("LT012", 1, "NameError: name 'undefined' is not defined"),
    "x = getattr(1, 'foo')\n": ("LT012", 1, "AttributeError: 'int' object has no attribute 'foo'"),
    "x = getattr({}, 'a')\n": ("LT012", 1, "AttributeError: 'dict' object has no attribute 'a'"),
    "x = getattr(1)\n": ("LT012", 1, "TypeError: getattr expected at least 2 arguments, got 1"),
    "x = getattr(1, 'a', 2, 3)\n": ("LT012", 1, "TypeError: getattr expected at most 3 arguments, got 4"),
    "x = hasattr(1, 'a', 2)\n": ("LT012", 1, "TypeError: hasattr expected 2 arguments, got 3"),
    "x = hasattr(1, 2)\n": ("LT012", 1, "TypeError: attribute name must be string, not 'int'"),
    "x = getattr(1, 'a', default=2)\n": ("LT012", 1, "TypeError: getattr() takes no keyword arguments"),
    "break\n": ("LT001", 1, "Python syntax error: 'break' outside loop"),
    "x = " + "-" * 100000 + "1\n": ("LT001", 1, "Python cannot parse this file: an expression nests or chains"),
    "x = " + "+".join(["1"] * 100000) + "\n": ("LT001", 1, "too deeply for Python's parser (RecursionError)"),
}


def _findings(path: Path) -> list[tuple[str, str, int, str]]:
    result = Resolver().resolve(path)
    return [
        (d.code, Path(d.span.file).name if d.span else "", d.span.line if d.span else 0, d.message)
        for d in result.diagnostics
    ]


@pytest.mark.parametrize("source", list(FAILS), ids=lambda s: s[:40])
def test_what_python_raises_is_a_finding_at_its_line(write: Callable[..., Path], source: str) -> None:
    code, line, message = FAILS[source]
    found = _findings(write("cfg.py", source))
    assert any(c == code and f == "cfg.py" and n == line and message in m for c, f, n, m in found), found
    for _, _, _, m in found:
        assert "LDict" not in m and "Opaque" not in m


def test_the_error_is_at_the_expression_and_the_rest_still_resolves(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(write("cfg.py", "a = 1\nb = dict(x=[1][::0])\nc = 3\n"))
    [d] = result.diagnostics
    assert (d.code, d.severity) == ("LT012", Severity.ERROR)
    assert d.span is not None and (d.span.line, d.span.column, d.span.end_column) == (2, 12, 20)
    assert d.message == "ValueError: slice step cannot be zero (mmengine would fail to load this config here)"
    assert result.cfg is not None and result.cfg["a"] == 1 and result.cfg["c"] == 3
    assert isinstance(result.cfg["b"], Opaque)


# Python runs these; so does the interpreter, to Python's value.
RUNS = [
    "x = 'a'.format_map(dict())",
    "x = '{a}-{b}'.format_map(dict(a=1, b='z'))",
    "x = (1).real",
    "x = (2.5).imag",
    "x = (3).numerator",
    "x = (1.5).hex()",
    "x = (1).bit_length()",
    "x = (255).bit_count()",
    "x = (0.75).as_integer_ratio()",
    "x = (2.0).is_integer()",
    "x = [1, 2, 3][slice(1)]",
    "x = [1, 2, 3, 4][slice(1, None, 2)]",
    "x = repr([1, 'a'])",
    "x = ascii('é')",
    "x = format(3.14159, '.2f')",
    "x = hex(255) + oct(8) + bin(5)",
    "x = chr(ord('a') + 1)",
    "x = '%s-%05.1f-%x' % ('a', 2.25, 255)",
    "x = '%(a)s/%(b)d' % dict(a='p', b=3)",
    "x = f'{1:>5}|{2.5:.3f}|{\"s\"!r}|{[1, 2]}'",
    "x = '{:{}}'.format(7, 4)",
    "x = sum([[1], [2]], [])",
    "x = sum([1, 2.5, True])",
    "x = sorted({'b': 1, 'a': 2}.items())",
    "x = list(zip([1, 2], 'ab'))",
    "x = list(enumerate('ab', 1))",
    "x = min([3, 1, 2]), max(4, 9)",
    "x = 10**30 // 7, divmod(10**20, 3), pow(3, 100, 7), 2**-2",
    "x = round(123456, -2), round(2.675, 2)",
    "x = [0] * 3 + [1] * 2",
    "x = 'ab'.center(6, '*') + 'a\\tb'.expandtabs(4) + 'aaa'.replace('a', 'bb', 2)",
    "x = '-'.join(str(i) for i in range(5))",
    "x = [1, 2] == [1, 2], (1, [2]) < (1, [3]), 'a' in ['b', 'a'], 3 not in {1: 2}",
    "x = str({'a': (1, 2.5, None, True)})",
    "x = isinstance(slice(1), slice), isinstance(range(2), range)",
    "d = dict(a=1)\nd.update([('b', 2)], c=3)\nx = d",
    "l = [3, 1, 2]\nl.sort(reverse=True)\nx = l",
    "x = hasattr({}, 'keys'), hasattr({}, 'a'), hasattr('s', 'upper'), hasattr(1, 'real'), hasattr([], 'x')",
    "x = getattr('ab', 'upper')(), getattr(2, 'imag'), getattr([], 'nope', 'default'), getattr({}, 'a', None)",
    "x = hasattr((1,), 'count'), hasattr(range(2), 'start'), hasattr(None, 'x'), hasattr({1}, '__len__')",
]


def _python(source: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the test's own literal source, not a config
    return namespace["x"]


@pytest.mark.parametrize("source", RUNS)
def test_what_python_runs_gives_python_s_value(write: Callable[..., Path], source: str) -> None:
    result = Resolver().resolve(write("cfg.py", source + "\n"))
    assert result.diagnostics == []
    assert result.cfg is not None
    assert to_plain(result.cfg["x"]) == _python(source)


def test_a_builtin_module_attribute_is_unknown_not_a_name_error(write: Callable[..., Path]) -> None:
    # `sys` and `builtins` are built into every interpreter, so this is a classic config.
    result = Resolver().resolve(write("cfg.py", "import sys, builtins\nx = sys.x\ny = 1\n"))
    assert [d.code for d in result.diagnostics] == ["LT010", "LT010"]
    assert result.cfg is not None and isinstance(result.cfg["x"], Opaque) and result.cfg["y"] == 1


def test_every_name_python_defines_is_known(write: Callable[..., Path]) -> None:
    # Named, not called: Python has these, so there is no NameError.
    result = Resolver().resolve(write("cfg.py", "x = [ValueError, memoryview, NotImplemented, exit]\n"))
    assert all(d.code != "LT012" for d in result.diagnostics)


def test_several_modules_in_one_import_of_a_new_style_config(write: Callable[..., Path]) -> None:
    from mmengine import Config

    path = write("cfg.py", "import sys, losstune_no_such_module\nx = 1\n")
    with pytest.raises(AssertionError) as raised:
        Config.fromfile(str(path))
    found = _findings(path)
    assert [(c, n) for c, _, n, _ in found] == [("LT013", 1)]
    assert str(raised.value) in found[0][3]


def test_an_unknown_value_inside_a_container_is_not_guessed(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(
        write("cfg.py", "import numpy as np\nl = [np.pi, 1]\nx = str(l)\ny = l == [1, 1]\nz = sorted(l)\nw = l + [2]\n")
    )
    assert result.cfg is not None
    for name in ("x", "y", "z"):
        assert isinstance(result.cfg[name], Opaque), name
    assert len(result.cfg["w"]) == 3  # building a list does not look at its elements
    assert all(d.severity is Severity.WARNING for d in result.diagnostics)


def test_hasattr_and_getattr_of_what_losstune_does_not_know_are_unknown(write: Callable[..., Path]) -> None:
    result = Resolver().resolve(
        write(
            "cfg.py",
            "import sys\nu = sys.maxsize\n"
            "a = hasattr(sys, 'version')\nb = getattr(sys, 'maxsize', 3)\nc = hasattr(u, 'real')\n"
            "d = getattr({}, 'a', u)\ne = len(getattr(dict(a=1), 'keys', u)())\nf = hasattr('', '__class__')\n",
        )
    )
    assert result.cfg is not None
    assert [k for k, v in result.cfg.items() if isinstance(v, Opaque)] == ["u", "a", "b", "c", "d"]
    assert result.cfg["e"] == 1  # found: the default is not needed
    assert result.cfg["f"] is True
    assert [(d.code, d.span.line) for d in result.diagnostics if d.span] == [("LT010", n) for n in (1, 2, 3, 4)]


def test_a_config_dict_s_own_attributes_come_before_its_keys(write: Callable[..., Path]) -> None:
    write("base.py", "model = dict(freeze=1, depth=50)\n")
    result = Resolver().resolve(
        write(
            "cfg.py",
            "_base_ = './base.py'\nx = hasattr(_base_.model, 'freeze')\ny = _base_.model.freeze\n"
            "z = getattr(_base_.model, 'depth')\n",
        )
    )
    assert result.cfg is not None
    assert result.cfg["x"] is True and result.cfg["z"] == 50
    # `ConfigDict.freeze` is a method of mmengine's, not the key: losstune does not guess it.
    assert isinstance(result.cfg["y"], Opaque)


@pytest.mark.parametrize(
    "child",
    [
        "_base_ = './base.py'\nx = []\n_base_.model.x = _base_\n",
        "_base_ = './base.py'\n_base_.model.update(me=_base_.model)\n",
        "_base_ = './base.py'\n_base_['model']['a'] = [_base_]\n",
        # through a name bound to a part of the bases, and with an augmented assignment
        "_base_ = './base.py'\nm = _base_.model\nm['me'] = m\n",
        "_base_ = './base.py'\nm = _base_.model\nm.l += [m]\n",
        "_base_ = './base.py'\nm = _base_.model.l\nm += [m]\n",
    ],
)
def test_a_base_changed_to_contain_itself_is_a_finding_not_a_crash(write: Callable[..., Path], child: str) -> None:
    write("base.py", "model = dict(a=1, l=[])\n")
    cfg = write("cfg.py", child)
    result = Resolver().resolve(cfg)
    found = [(d.code, d.span.file.rsplit("/", 1)[-1] if d.span else None) for d in result.diagnostics]
    assert ("LT012", "base.py") in found, result.diagnostics
    assert any("contains itself" in d.message for d in result.diagnostics)
    assert result.cfg is not None
    losstune_text = repr(to_plain(result.cfg))  # what every report walks: finite
    assert "model" in losstune_text

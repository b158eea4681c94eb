"""A block whose running depends on a value losstune cannot know is never skipped silently.

When the condition of an ``if`` or ``while``, or the iterable of a ``for``, is unknown, every name
the block could bind and every value it could change becomes unknown (opaque), with one warning at
the condition. What the block cannot touch keeps its value. Where mmengine is installed, every known
value is checked against what mmengine gives for the same file.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from losstune.loader.resolve import Resolver
from losstune.loader.values import Opaque
from losstune.model import Severity

# `flag()` runs in mmengine (which returns True from it) but not in losstune, which does not run
# functions: a condition that is unknown to losstune only.
FLAG = "def flag():\n    return True\n\n\n"


def _opaque_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, Opaque):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _opaque_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _opaque_paths(v, f"{path}.{i}")]
    return []


def _agrees(got: Any, want: Any, path: str = "") -> list[str]:
    """Where ``got`` (losstune's) says something other than ``want`` (mmengine's); an unknown value
    agrees with anything, including a key that mmengine does not have."""
    if isinstance(got, Opaque):
        return []
    if isinstance(got, dict) and isinstance(want, dict):
        out = [f"{path}.{k}: missing" for k in want if k not in got]
        for k, v in got.items():
            if k not in want:
                if not isinstance(v, Opaque):
                    out.append(f"{path}.{k}: not in mmengine's")
            else:
                out += _agrees(v, want[k], f"{path}.{k}")
        return out
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        if type(got) is not type(want) or len(got) != len(want):
            return [f"{path}: {got!r} != {want!r}"]
        return [p for i, (a, b) in enumerate(zip(got, want, strict=True)) for p in _agrees(a, b, f"{path}.{i}")]
    return [] if type(got) is type(want) and got == want else [f"{path}: {got!r} != {want!r}"]


def _resolve(path: Path) -> tuple[dict[str, Any], list[tuple[str, int, int, str]]]:
    result = Resolver().resolve(path)
    assert result.cfg is not None
    assert not [d for d in result.diagnostics if d.severity is Severity.ERROR]
    found = [(d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics if d.span is not None]
    try:
        from mmengine.config import Config
    except ImportError:
        pass
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            want = Config.fromfile(str(path)).to_dict()
        assert _agrees(dict(result.cfg), want) == []
    return result.cfg, found


def _warned_at(found: list[tuple[str, int, int, str]], line: int, column: int) -> str:
    at = [m for code, ln, col, m in found if code == "LT010" and (ln, col) == (line, column)]
    assert len(at) == 1, found
    return at[0]


def test_names_an_if_with_an_unknown_condition_assigns_become_unknown(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(
        write(
            "cfg.py",
            FLAG + "x = 0\ny = 1\nif flag():\n    x = 1\n    z = 2\n    y += 1\nw = x + 1\nkept = 3\n",
        )
    )
    assert _opaque_paths(cfg) == ["x", "y", "z", "w"]
    assert cfg["kept"] == 3
    message = _warned_at(found, 7, 4)
    assert message == (
        "`flag()` cannot be evaluated without running code (`flag` is a module or function defined in the config, "
        "and it is the condition of an `if`, so `x`, `z` and `y` are unknown too); its value is unknown to losstune"
    )


def test_every_branch_of_an_if_elif_else_is_unknown(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(
        write(
            "cfg.py",
            FLAG + "if flag():\n    a = 1\nelif flag():\n    b = 2\nelse:\n    c = 3\nd = 4\n",
        )
    )
    assert _opaque_paths(cfg) == ["a", "b", "c"]
    assert cfg["d"] == 4
    _warned_at(found, 5, 4)


def test_a_known_condition_inside_runs_its_branch_and_an_unknown_elif_after_it_does_not(
    write: Callable[..., Path],
) -> None:
    cfg, _ = _resolve(
        write("cfg.py", FLAG + "n = 1\nif n == 2:\n    a = 1\nelif flag():\n    b = 2\nelse:\n    c = 3\n")
    )
    assert _opaque_paths(cfg) == ["b", "c"]
    assert "a" not in cfg


def test_an_item_or_attribute_set_in_the_block_makes_only_that_value_unknown(write: Callable[..., Path]) -> None:
    write("base.py", "model = dict(type='RetinaNet', head=dict(loss=dict(gamma=2.0), num_classes=80))\n")
    cfg, _ = _resolve(
        write(
            "cfg.py",
            "_base_ = './base.py'\n"
            + FLAG
            + "model = _base_.model\n"
            + "plain = dict(a=1, b=2)\n"
            + "if flag():\n"
            + "    model.head.loss.gamma = 0.5\n"
            + "    model['type'] = 'FCOS'\n"
            + "    plain['a'] = 10\n"
            + "    del plain['b']\n",
        )
    )
    assert _opaque_paths(cfg) == ["model.type", "model.head.loss.gamma", "plain.a", "plain.b"]
    assert cfg["model"]["head"]["num_classes"] == 80


def test_an_update_in_the_block_makes_the_keys_it_names_unknown(write: Callable[..., Path]) -> None:
    write("base.py", "model = dict(type='RetinaNet', neck=dict(out=256))\npre = dict(mean=[1, 2])\n")
    cfg, _ = _resolve(
        write(
            "cfg.py",
            "_base_ = './base.py'\n"
            + FLAG
            + "architecture = _base_.model\n"
            + "other = dict(k=1)\n"
            + "extra = dict(x=1)\n"
            + "if flag():\n"
            + "    architecture.update({'pre': _base_.pre}, scale=2)\n"
            + "    other.update(extra)\n"
            + "    architecture.setdefault('neck', None)\n"
            + "model = dict(_delete_=True, type='Algo', architecture=architecture)\n",
        )
    )
    # `other.update(extra)` may change any key of `other`: the whole dict is unknown.
    assert _opaque_paths(cfg) == [
        "model.architecture.neck",
        "model.architecture.pre",
        "model.architecture.scale",
        "architecture.neck",
        "architecture.pre",
        "architecture.scale",
        "other",
    ]
    assert cfg["extra"] == {"x": 1}
    assert cfg["model"]["architecture"]["type"] == "RetinaNet"


def test_a_list_changed_in_the_block_is_unknown(write: Callable[..., Path]) -> None:
    cfg, _ = _resolve(
        write(
            "cfg.py",
            FLAG + "hooks = [dict(type='A')]\nd = dict(h=[1])\nif flag():\n    hooks.append(dict(type='B'))\n"
            "    d['h'].extend([2])\n",
        )
    )
    assert _opaque_paths(cfg) == ["hooks", "d.h"]


def test_an_import_a_function_and_a_del_in_the_block_are_unknown(write: Callable[..., Path]) -> None:
    cfg, _ = _resolve(
        write(
            "cfg.py",
            FLAG + "x = 1\nmaxsize = 0\nif flag():\n    from sys import maxsize\n    import time as tm\n"
            "    def helper():\n        inner = 1\n    del x\n"
            "y = maxsize\n",
        )
    )
    assert _opaque_paths(cfg) == ["x", "maxsize", "tm", "helper", "y"]
    assert "inner" not in cfg


def test_nested_blocks_and_loops_inside_an_unknown_block(write: Callable[..., Path]) -> None:
    cfg, _ = _resolve(
        write(
            "cfg.py",
            FLAG + "k = 5\ntotal = 0\nif flag():\n    for i in range(3):\n        if i:\n            total += i\n"
            "    while False:\n        never = 1\n    squares = [k * k for k in range(3)]\n",
        )
    )
    # The comprehension's `k` is its own: the `k` of the file is not changed by it.
    assert _opaque_paths(cfg) == ["total", "i", "never", "squares"]
    assert cfg["k"] == 5


def test_a_loop_over_an_unknown_value_makes_what_it_assigns_unknown(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(
        write(
            "cfg.py",
            FLAG
            + "scenes = flag() and ['a', 'b']\ncount = 0\nseen = dict()\nfor s in scenes:\n    count += 1\n    seen[s] = 1\n"
            "else:\n    done = True\nafter = 1\n",
        )
    )
    assert _opaque_paths(cfg) == ["scenes", "count", "seen", "s", "done"]
    assert cfg["after"] == 1
    assert "the iterable of a `for`, so `s`, `count`, `seen[s]` and `done` are unknown too" in _warned_at(found, 8, 10)


def test_a_loop_whose_break_depends_on_an_unknown_condition(write: Callable[..., Path]) -> None:
    cfg, _ = _resolve(
        write(
            "cfg.py",
            FLAG + "last = None\nfor i in [1, 2, 3]:\n    if flag():\n        break\n    last = i\nelse:\n"
            "    finished = True\nafter = 1\n",
        )
    )
    assert _opaque_paths(cfg) == ["last", "i", "finished"]
    assert cfg["after"] == 1


def test_a_while_loop_runs_as_python_runs_it(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(
        write("cfg.py", "n = 0\nsteps = []\nwhile n < 3:\n    n += 1\n    steps.append(n)\nelse:\n    done = n\n")
    )
    assert (cfg["n"], cfg["steps"], cfg["done"]) == (3, [1, 2, 3], 3)
    assert found == []


def test_a_while_loop_with_an_unknown_condition(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(write("cfg.py", FLAG + "n = 0\nwhile flag():\n    n += 1\n    break\nm = 2\n"))
    assert _opaque_paths(cfg) == ["n"]
    assert cfg["m"] == 2
    _warned_at(found, 6, 7)


def test_a_try_statement_is_not_skipped_silently(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(
        write("cfg.py", "a = 1\ntry:\n    a = 2\n    b = 3\nexcept ValueError as e:\n    c = 4\nd = 5\n")
    )
    assert _opaque_paths(cfg) == ["a", "b", "e", "c"]
    assert cfg["d"] == 5
    assert [code for code, *_ in found] == ["LT010"]


def test_a_match_statement_makes_what_it_binds_unknown(write: Callable[..., Path]) -> None:
    cfg, found = _resolve(
        write("cfg.py", "a = 1\nmatch a:\n    case {'k': v}:\n        a = 2\n    case [*rest]:\n        pass\n")
    )
    assert _opaque_paths(cfg) == ["a", "v", "rest"]
    assert [code for code, *_ in found] == ["LT010"]


def test_an_unknown_break_in_an_inner_loop_leaves_the_outer_loop_known(write: Callable[..., Path]) -> None:
    cfg, _ = _resolve(
        write(
            "cfg.py",
            FLAG + "for a in [1, 2]:\n    for b in [1, 2]:\n        if flag():\n            continue\n"
            "        inner = b\n    outer = a\n",
        )
    )
    assert _opaque_paths(cfg) == ["b", "inner"]
    assert (cfg["a"], cfg["outer"]) == (2, 2)


def test_a_value_changed_anywhere_is_unknown_wherever_it_is_read(write: Callable[..., Path]) -> None:
    # `architecture` is `_base_.model` itself: an update of unknown keys changes both.
    write("base.py", "model = dict(type='RetinaNet', depth=50)\n")
    cfg, found = _resolve(
        write(
            "cfg.py",
            "_base_ = './base.py'\n"
            + FLAG
            + "architecture = _base_.model\nextra = dict(depth=101)\nwrapped = [architecture]\n"
            + "if flag():\n    architecture.update(extra)\n"
            + "model = dict(_delete_=True, type='Algo', architecture=_base_.model)\n",
        )
    )
    assert _opaque_paths(cfg) == ["model.architecture", "architecture", "wrapped.0"]
    assert cfg["extra"] == {"depth": 101}
    assert "so `architecture` is unknown too" in _warned_at(found, 9, 4)

"""``LDict`` keeps its per-key origins in step with its keys, whichever way a key goes or comes."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from losstune.loader.values import LDict
from losstune.model import Origin, Span


def _origin(line: int) -> Origin:
    return Origin(Span("cfg.py", line, 0, line, 1), "literal")


def _sample() -> LDict:
    d = LDict()
    for i, k in enumerate("abc", start=1):
        d.set(k, i, _origin(i))
    return d


def test_del_drops_the_origin() -> None:
    d = _sample()
    del d["a"]
    assert d.origins == {"b": _origin(2), "c": _origin(3)}


def test_pop_drops_the_origin_and_an_absent_key_changes_nothing() -> None:
    d = _sample()
    assert d.pop("b") == 2
    assert d.pop("zz", None) is None
    assert d.origins == {"a": _origin(1), "c": _origin(3)}


def test_popitem_drops_the_origin_of_the_last_key() -> None:
    d = _sample()
    assert d.popitem() == ("c", 3)
    assert d.origins == {"a": _origin(1), "b": _origin(2)}


def test_clear_drops_every_origin() -> None:
    d = _sample()
    d.clear()
    assert d == {} and d.origins == {}


def test_a_key_removed_and_added_again_has_no_stale_origin() -> None:
    for remove in (lambda d: d.__delitem__("a"), lambda d: d.pop("a"), lambda d: d.clear()):
        d = _sample()
        remove(d)
        d["a"] = 10
        assert "a" not in d.origins
        d2 = _sample()
        remove(d2)
        d2.setdefault("a", 10)
        assert "a" not in d2.origins


def test_setdefault_keeps_the_origin_of_a_present_key() -> None:
    d = _sample()
    assert d.setdefault("a", 99) == 1
    assert d.origins["a"] == _origin(1)


def test_update_from_an_ldict_brings_its_origins() -> None:
    d = _sample()
    other = LDict()
    other.set("b", 20, _origin(20))
    other["d"] = 4  # no origin known
    d.update(other, e=5)
    assert d == {"a": 1, "b": 20, "c": 3, "d": 4, "e": 5}
    assert d.origins == {"a": _origin(1), "b": _origin(20), "c": _origin(3)}


def test_set_without_an_origin_drops_the_old_one() -> None:
    d = _sample()
    d.set("a", 5, None)
    assert "a" not in d.origins


def test_copies_keep_the_origins() -> None:
    d = _sample()
    for c in (d.shallow_copy(), copy.deepcopy(d)):
        assert c == d and c.origins == d.origins and c.origins is not d.origins


OPS = st.lists(
    st.tuples(
        st.sampled_from(["set", "set_none", "item", "del", "pop", "popitem", "clear", "setdefault", "update", "ior"]),
        st.sampled_from("abcd"),
        st.integers(0, 9),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_origins_are_always_those_of_present_keys(ops: list[tuple[str, str, int]]) -> None:
    d = LDict()
    model: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for op, k, n in ops:
        if op == "set":
            d.set(k, n, _origin(n))
            model[k], origins[k] = n, _origin(n)
        elif op == "set_none":
            d.set(k, n, None)
            model[k] = n
            origins.pop(k, None)
        elif op == "item":
            d[k] = n
            model[k] = n
        elif op == "del" and k in model:
            del d[k]
            del model[k]
            origins.pop(k, None)
        elif op == "pop":
            assert d.pop(k, None) == model.pop(k, None)
            origins.pop(k, None)
        elif op == "popitem" and model:
            key, _ = d.popitem()
            assert key == model.popitem()[0]
            origins.pop(key, None)
        elif op == "clear":
            d.clear()
            model.clear()
            origins.clear()
        elif op == "setdefault":
            assert d.setdefault(k, n) == model.setdefault(k, n)
        elif op in ("update", "ior"):
            other = LDict()
            other.set(k, n, _origin(n))
            if op == "update":
                d.update(other)
            else:
                d |= other
            model[k], origins[k] = n, _origin(n)
        assert d == model and d.origins == origins

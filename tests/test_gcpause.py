"""The cycle collector is held off while a file is parsed, and left as it was found."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from losstune.loader import gcpause, pycompile, pysource
from losstune.loader.frontend import parse_python
from losstune.loader.source import SourceText
from losstune.model import Diagnostic


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:  # pragma: no cover - the suite runs with the collector on
        gc.disable()


def test_paused_inside_and_enabled_again_after_the_outermost_block() -> None:
    gc.enable()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gcpause.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_enabled_again_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(ValueError), gcpause.paused():
        raise ValueError("x")
    assert gc.isenabled()


def test_the_parse_and_compile_of_a_file_run_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.enable()
    seen: list[tuple[str, bool]] = []

    def recording(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, gc.isenabled()))
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(pysource, "parse", recording("parse", pysource.parse))
    monkeypatch.setattr(pycompile, "check", recording("compile", pycompile.check))
    diagnostics: list[Diagnostic] = []
    parsed = parse_python(SourceText.plain("c.py", "x = [dict(a=i) for i in range(3)]\n"), diagnostics)
    assert parsed is not None and not diagnostics
    assert seen == [("parse", False), ("compile", False)]
    assert gc.isenabled()


def test_frozen_keeps_what_was_there_out_of_the_collector_until_the_outermost_block_ends() -> None:
    import weakref

    class Node:
        other: Any = None

    before = gc.get_freeze_count()
    with gcpause.frozen():
        held = gc.get_freeze_count()
        assert held > before
        with gcpause.frozen():
            assert gc.get_freeze_count() == held  # nested: nothing frozen twice, nothing thawed
        assert gc.get_freeze_count() == held
        # A cycle made inside the block is still found and freed by the collector.
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    assert gc.get_freeze_count() == before


def test_frozen_thaws_when_the_block_raises() -> None:
    before = gc.get_freeze_count()
    with pytest.raises(ValueError), gcpause.frozen():
        raise ValueError("x")
    assert gc.get_freeze_count() == before


def test_the_garbage_made_before_the_block_is_not_kept_past_it() -> None:
    """Freezing moves what the process holds into the oldest generation when the block ends,
    where only a full pass looks, and full passes are rare: the young cycles made since the last
    pass (the garbage of the check before, in a process that checks file after file) must be
    freed first, else memory grows with every file."""
    assert _dropped_cycle_freed_by_young_passes(gcpause.frozen, moved_once=False)


def _dropped_cycle_freed_by_young_passes(block: Callable[[], AbstractContextManager[None]], moved_once: bool) -> bool:
    """Whether a cycle dropped before ``block`` runs (``moved_once``: after a young pass moved it
    to the middle generation) is freed by the young generations' passes after it."""
    import weakref

    class Node:
        other: Any = None

    gc.enable()
    gc.collect()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    if moved_once:
        gc.collect(0)
    del a, b
    with block():
        pass
    gc.collect(1)  # the young generations only, as the collector runs by itself
    return gone() is None


def test_what_a_pause_made_goes_to_the_oldest_generation_without_a_pass() -> None:
    gc.enable()
    with gcpause.paused():
        made = [[i] for i in range(10)]
    assert gc.get_count()[0] <= 1
    assert any(o is made for o in gc.get_objects(generation=2))


def test_the_garbage_made_before_a_pause_is_not_kept_past_it() -> None:
    assert _dropped_cycle_freed_by_young_passes(gcpause.paused, moved_once=True)


def test_a_pause_inside_a_frozen_block_thaws_nothing() -> None:
    gc.enable()
    with gcpause.frozen():
        held = gc.get_freeze_count()
        with gcpause.paused():
            pass
        assert gc.get_freeze_count() == held

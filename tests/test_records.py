"""The shared record types keep the equality the rest of losstune relies on."""

from __future__ import annotations

import pytest

from losstune.model import Diagnostic, FixEdit, Origin, Severity, Span

SPAN = Span("/cfg/a.py", 3, 5, 3, 9)


def test_an_origin_is_the_same_place_whatever_it_read() -> None:
    read = Origin(Span("/cfg/b.py", 1, 1, 1, 4))
    plain = Origin(SPAN, "expression", "1.0 / x")
    with_reads = Origin(SPAN, "expression", "1.0 / x", reads=(("x", read),))
    assert plain == with_reads
    assert hash(plain) == hash(with_reads)
    assert len({plain, with_reads}) == 1
    assert plain != Origin(SPAN, "expression", "2.0 / x")
    assert plain != Origin(SPAN, "expression", "1.0 / x", via=read)


def test_a_finding_is_the_same_with_or_without_its_fix() -> None:
    bare = Diagnostic("LT001", "unknown-key", Severity.ERROR, "unknown key `gama`", SPAN, key="loss.gama")
    fixable = Diagnostic(
        "LT001",
        "unknown-key",
        Severity.ERROR,
        "unknown key `gama`",
        SPAN,
        key="loss.gama",
        edit=FixEdit("safe", "rename gama to gamma", renames=(("loss.gama", "gamma"),)),
    )
    assert bare == fixable
    assert {bare, fixable} == {bare}
    assert bare != Diagnostic("LT001", "unknown-key", Severity.WARNING, "unknown key `gama`", SPAN, key="loss.gama")


def test_records_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SPAN.line = 4  # type: ignore[misc]

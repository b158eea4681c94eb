"""``noqa`` comments: the words in any case, the codes in ASCII letters and digits."""

from __future__ import annotations

import pytest

from losstune.lint.noqa import directive, silenced


@pytest.mark.parametrize(
    ("line", "codes", "own"),
    [
        ("x = 1  # noqa", None, False),
        ("x = 1  # NOQA: lt001", ("LT001",), False),
        ("x = 1  # LossTune: NoQa : LT1 lt102", ("LT1", "LT102"), True),
        ("x = 1  #losstune:noqa:LT001,LT002", ("LT001", "LT002"), True),
    ],
)
def test_the_words_are_read_in_any_case(line: str, codes: tuple[str, ...] | None, own: bool) -> None:
    d = directive(line)
    assert d is not None
    assert (None if d.codes is None else tuple(c.code for c in d.codes)) == codes
    assert d.own is own
    assert line[d.start :].startswith("#")


def test_a_code_is_ascii_letters_and_digits() -> None:
    # U+017F (long s) and U+212A (Kelvin sign) fold to ASCII letters; neither starts a code.
    d = directive("x = 1  # noqa: \u017ft001")
    assert d is not None and d.codes is None
    assert silenced("x = 1  # noqa: \u212a1", "LT001")  # no codes: every finding is silenced


def test_not_a_directive() -> None:
    assert directive("x = 1  # noqa-ish") is None
    assert directive("x = 1  # a noqa in words") is None

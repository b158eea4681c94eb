"""Which codes a ``select``/``ignore`` entry names: a code, the prefix of codes (``LT1`` is every
``LT1xx``), or ``ALL``; an entry that names no code is refused, never matched against nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable

ALL = "ALL"
_NUMBERED = re.compile(r"(?P<letters>\D*)(?P<number>\d+)")


def code_names() -> dict[str, str]:
    """Every code lint can report, the loader's and the rules', with its name, in code order."""
    from losstune.loader.codes import ALL_CODES
    from losstune.rules import ALL_RULES

    named = {c.code: c.name for c in ALL_CODES} | {r.code: r.name for r in ALL_RULES}
    return dict(sorted(named.items()))


def known_codes() -> list[str]:
    """Every code lint can report, sorted."""
    return list(code_names())


def matches(code: str, entry: str) -> bool:
    """Whether the entry ``entry`` (a code, a prefix or ``ALL``) names ``code``."""
    return entry == ALL or code.startswith(entry)


def ranges(codes: Iterable[str]) -> str:
    """``codes`` said briefly: runs of consecutive numbers as ``LT001-LT021``."""
    runs: list[list[str]] = []
    last: tuple[str, int, int] | None = None
    for code in sorted(codes):
        m = _NUMBERED.fullmatch(code)
        key = (m.group("letters"), len(m.group("number")), int(m.group("number"))) if m else None
        if key is not None and last is not None and key[:2] == last[:2] and key[2] == last[2] + 1:
            runs[-1].append(code)
        else:
            runs.append([code])
        last = key
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def unknown_entry(entry: str, codes: list[str]) -> str | None:
    """Why ``entry`` cannot be used, or ``None`` when it names at least one of ``codes``."""
    if entry == ALL or any(c.startswith(entry) for c in codes):
        return None
    import difflib

    close = difflib.get_close_matches(entry, codes, n=2, cutoff=0.8)
    ratio = [difflib.SequenceMatcher(None, entry, c).ratio() for c in close]
    # Two codes as close as each other (`LT11O`: LT110 or LT116?) are no suggestion.
    one = close[0] if len(close) == 1 or (close and ratio[0] > ratio[1]) else None
    hint = f"; did you mean `{one}`? The codes are" if one else "; the codes are"
    return (
        f"`{entry}` is neither a code nor the prefix of one{hint} {ranges(codes)} "
        f"(`losstune rule` lists them; a prefix such as `LT1` names every code it starts, `{ALL}` all of them)"
    )


def first_unknown(entries: Iterable[str]) -> tuple[str, str] | None:
    """The first of ``entries`` that names no code, with why (:func:`unknown_entry`); ``None`` when
    every one names some."""
    codes = known_codes()
    for entry in entries:
        problem = unknown_entry(entry, codes)
        if problem is not None:
            return entry, problem
    return None


def split_entries(values: Iterable[str]) -> tuple[str, ...]:
    """The entries of ``values``, each of which may hold several, comma-separated, upper-cased."""
    return tuple(e.strip().upper() for v in values for e in v.split(",") if e.strip())

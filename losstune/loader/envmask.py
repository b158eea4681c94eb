"""Values that a config reads from environment variables, named and never shown.

``{{$NAME:default}}`` templates take their values from the environment, where tokens, passwords
and private paths live, and losstune's output goes to CI logs and code-scanning services. So no
report or finding shows such a value: where one would, the variable is named instead (``$NAME``).

A value is taken to come from a variable when the text that sets it (or a name it refers to,
through ``via``) overlaps a template whose variable is set, or, for a string, when it holds the
variable's value. Free text (a message, a fix) has each value of four characters or more replaced
by its name; shorter values are too common (``1``, ``80``) to be hidden by text alone.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from msgspec import Struct
from msgspec.structs import replace

from losstune.loader import pysource
from losstune.loader.source import EnvTemplate, SourceText
from losstune.model import Diagnostic, Origin

MIN_HIDDEN_IN_TEXT = 4


class HasSources(Protocol):
    """Anything holding the texts of a ``_base_`` chain by path (a loaded config, a file's result)."""

    @property
    def sources(self) -> Mapping[str, SourceText]: ...


class EnvValue(Struct, frozen=True):
    """Shown in place of a value that comes from environment variables: their names."""

    names: tuple[str, ...]

    def __repr__(self) -> str:
        return ", ".join(f"${n}" for n in self.names)


class _FileTemplates(Struct, frozen=True):
    src: SourceText
    templates: list[EnvTemplate]
    starts: list[int]
    ends: list[int]


class EnvMask:
    """What a config read from the environment, and how to show values without it."""

    def __init__(self, sources: Iterable[SourceText]) -> None:
        self._files: dict[str, _FileTemplates] = {}
        values: dict[str, str] = {}  # each form of a value -> its variable
        for src in sources:
            used = [t for t in src.env_templates if t.from_env]
            if used:
                self._files[src.path] = _FileTemplates(src, used, [t.start for t in used], [t.end for t in used])
                for t in used:
                    values.update(dict.fromkeys(_forms(src.env_used[t.name]), t.name))
        # Longest first, so that a value holding another is replaced whole.
        self._values = sorted(((name, v) for v, name in values.items() if v), key=lambda kv: -len(kv[1]))

    @classmethod
    def of(cls, config: HasSources) -> EnvMask:
        """The mask of a loaded config (every file of its ``_base_`` chain)."""
        return cls(config.sources.values())

    def __bool__(self) -> bool:
        return bool(self._values)

    def names(self, value: Any, origin: Origin | None) -> tuple[str, ...]:
        """The variables ``value``, set at ``origin``, comes from (none for a default)."""
        if not self._values or origin is None:
            return ()
        found: dict[str, None] = {}
        o: Origin | None = origin
        while o is not None:
            found.update(dict.fromkeys(self._written_at(o)))
            o = o.via
        found.update(dict.fromkeys(self._held_by(value)))
        return tuple(found)

    def value(self, value: Any, origin: Origin | None) -> Any:
        """``value``, or an :class:`EnvValue` naming the variables it comes from."""
        names = self.names(value, origin)
        return EnvValue(names) if names else value

    def show(self, value: Any, origin: Origin | None) -> str:
        """``repr(value)``, or ``$NAME`` where it comes from the variable ``NAME``."""
        return repr(self.value(value, origin))

    def text(self, text: str) -> str:
        """``text`` with each variable's value (of four characters or more) replaced by its name."""
        for name, value in self._values:
            if len(value) >= MIN_HIDDEN_IN_TEXT and value in text:
                text = text.replace(value, f"${name}")
        return text

    def diagnostic(self, d: Diagnostic) -> Diagnostic:
        """``d`` with no variable's value in its message, fix, notes or key."""
        if not self._values:
            return d
        masked = replace(
            d,
            message=self.text(d.message),
            fix=self.text(d.fix) if d.fix is not None else None,
            notes=tuple(self.text(n) for n in d.notes),
            key=self.text(d.key) if d.key is not None else None,
        )
        return d if masked == d else masked

    def _written_at(self, origin: Origin) -> list[str]:
        f = self._files.get(origin.span.file)
        if f is None:
            return []
        s = origin.span
        try:
            start, end = f.src.offsets(s)
        except IndexError:
            return []
        end = max(end, start + 1)
        lo = bisect.bisect_right(f.ends, start)
        hi = bisect.bisect_left(f.starts, end)
        return [t.name for t in f.templates[lo:hi]]

    def _held_by(self, value: Any) -> list[str]:
        """The variables whose values the strings in ``value`` hold (walked without recursion,
        each container once: a value may be deep, or hold itself)."""
        found: list[str] = []
        stack, seen = [value], set()
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                found += [n for n, env in self._values if v == env or (len(env) >= MIN_HIDDEN_IN_TEXT and env in v)]
            elif isinstance(v, (dict, list, tuple)) and id(v) not in seen:
                seen.add(id(v))
                stack.extend([*v.keys(), *v.values()] if isinstance(v, dict) else v)
        return found


def _forms(value: str) -> list[str]:
    """``value``, and the string it gives inside a Python string literal, where its backslashes
    are read as escapes (a template inside quotes: ``'{{$A:x}}'`` with ``A='a\\1'`` is ``'a\\x01'``)."""
    forms = [value]
    if "\\" in value:
        for quote in ("'", '"'):
            try:  # an invalid escape (`\\d`) warns, quietly, and stays as written
                read = ast.literal_eval(pysource.parse_expression(quote + value + quote))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(read, str) and read != value:
                forms.append(read)
                break
    return forms

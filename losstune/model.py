"""Shared types: positions, origins and diagnostics.

Every other module speaks in these terms, so they live together in one small module.
Lines and columns are 1-based; ``end_column`` is exclusive (the column just past the span).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from msgspec import Struct

from losstune.errors import LosstuneError

if TYPE_CHECKING:
    from losstune.loader.source import SourceText

OriginKind = Literal["literal", "variable", "expression", "base-reference", "command-line"]
"""How a value was written where it was set (see :class:`Origin`)."""

ComponentKind = Literal["loss", "sampler"]
"""What a schema entry, and a config dict with its ``type``, describes."""


class Span(Struct, frozen=True, gc=False):
    """A region of a source file.

    ``file`` is the file's absolute path as the loader found it (``os.path.abspath``: a symbolic
    link keeps its own path), whatever the working directory is when it is loaded or shown; the
    renderers show it relative to the working directory (``losstune.render.paths``).
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int


class Origin(Struct, frozen=True, gc=False):
    """Where a value was set.

    ``kind`` says how it was written there: ``literal`` (the value itself is written at ``span``),
    ``variable`` (a name bound elsewhere; ``via`` is where that name was set), ``expression``
    (computed, e.g. ``1.0 / 9.0``), ``base-reference`` (``_base_.x`` or ``{{_base_.x}}``),
    ``command-line`` (given with ``--cfg-options``: ``span`` is in the file ``<command line>``).
    ``text`` is the source text at ``span``. ``reads`` are, for an ``expression``, the top-level
    names its text names (those it reads, and possibly a word of a string), each with where that
    name had been set then: what the value would change with if mmengine computed it again (it
    never does).
    """

    span: Span
    kind: OriginKind = "literal"
    text: str = ""
    via: Origin | None = None
    reads: tuple[tuple[str, Origin | None], ...] = ()

    # Two origins are the same place however their ``reads`` were found.
    def __eq__(self, other: object) -> bool:
        if type(other) is not Origin:
            return NotImplemented
        return (self.span, self.kind, self.text, self.via) == (other.span, other.kind, other.text, other.via)

    def __hash__(self) -> int:
        return hash((self.span, self.kind, self.text, self.via))


class Severity(str, Enum):
    """How bad a finding is. Errors make the CLI fail; warnings only with ``--strict``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


FixSafety = Literal["safe", "unsafe"]
"""Whether a fix keeps what the config means (``safe``: ``lint --fix`` applies it) or changes how
the model trains (``unsafe``: only with ``--unsafe-fixes``)."""


class Replacement(Struct, frozen=True):
    """One text change of a fix: ``text`` in place of the file's text at ``span``."""

    span: Span
    text: str


class FixEdit(Struct, frozen=True):
    """A finding's fix as an edit request: what ``losstune set`` would be asked to do.

    ``sets`` are ``(key, value)`` pairs, ``unsets`` keys to remove and ``renames`` ``(key, new
    name)`` pairs, each a dotted key path of ``config``, the config the finding was made in.
    ``title`` says what the fix does, in the words of the finding's ``fix``. ``replacements`` are
    the text changes the fix makes: the whole fix where it changes the text itself (a comment), or,
    for an edit request, the changes it was planned to make (for JSON, SARIF and rdjson)."""

    safety: FixSafety
    title: str
    sets: tuple[tuple[str, Any], ...] = ()
    unsets: tuple[str, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()
    config: str | None = None
    replacements: tuple[Replacement, ...] = ()

    @property
    def is_request(self) -> bool:
        """Whether the fix is an edit request for ``set`` (else it is its ``replacements``)."""
        return bool(self.sets or self.unsets or self.renames)


class Related(Struct, frozen=True):
    """Another place a finding concerns: where the value it conflicts with, or the one that made
    it stale, was set (SARIF's ``relatedLocations``)."""

    span: Span
    message: str


class Diagnostic(Struct, frozen=True):
    """One finding: a loader problem or a rule violation, with its position.

    ``key`` is the dotted key path of the config value concerned, when there is one.
    ``fix`` is a one-line suggestion of what to do. ``related`` are the other places the finding
    concerns (a finding caused by a child config is reported at the child's line, and names the
    base's line here). ``files`` are the files ``message`` names, as it names them (absolute
    paths), for a renderer to show each as it shows the span's file. ``edit``, where losstune can
    make the fix itself, is that change as an edit request.
    """

    code: str
    name: str
    severity: Severity
    message: str
    span: Span | None = None
    key: str | None = None
    fix: str | None = None
    notes: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()
    files: tuple[str, ...] = ()
    edit: FixEdit | None = None

    # The same finding whether or not losstune can make its fix (``edit`` is left out).
    def _compared(self) -> tuple[object, ...]:
        return (
            self.code,
            self.name,
            self.severity,
            self.message,
            self.span,
            self.key,
            self.fix,
            self.notes,
            self.related,
            self.files,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Diagnostic:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def fingerprint(self) -> tuple[str, str, str, str]:
        """What tells this finding from others however its lines move: file, code, key path and
        message (a baseline's entry)."""
        return (self.span.file if self.span else "", self.code, self.key or "", self.message)

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, position, code."""
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.column, self.code)


class ConfigError(LosstuneError):
    """Raised by :func:`losstune.load` when a config cannot be resolved.

    ``diagnostics`` holds every error found, each with its file and position; ``sources`` the
    text of each file that was read, by absolute path (what an excerpt of a finding shows).
    """

    def __init__(self, diagnostics: list[Diagnostic], sources: Mapping[str, SourceText] | None = None) -> None:
        self.diagnostics = diagnostics
        self.sources = dict(sources or {})
        first = diagnostics[0]
        s = first.span
        where = f"{s.file}:{s.line}:{s.column}: " if s else ""
        super().__init__(f"{where}{first.message}")

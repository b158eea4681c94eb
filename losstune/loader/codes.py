"""Codes of the diagnostics that loading a config can produce.

Loader problems are reported like lint findings (a code, a name, a position), so that a broken
``_base_`` path shows up in the same list, the same formats and the same exit codes as a typo in a
loss. Codes ``LT0xx`` are the loader's; lint rules use ``LT1xx`` and up.
"""

from __future__ import annotations

from msgspec import Struct

from losstune.model import Diagnostic, Severity, Span


class Code(Struct, frozen=True):
    """A diagnostic kind: stable code, kebab-case name, default severity, and what it means."""

    code: str
    name: str
    severity: Severity
    summary: str


SYNTAX_ERROR = Code("LT001", "syntax-error", Severity.ERROR, "The file is not valid Python, YAML or JSON.")
ENCODING_ERROR = Code("LT002", "not-utf8", Severity.ERROR, "The file is not UTF-8 text.")
EMPTY_CONFIG = Code("LT003", "empty-config", Severity.ERROR, "The file holds nothing.")
UNREADABLE = Code(
    "LT004",
    "unreadable-path",
    Severity.ERROR,
    "The path is missing, a directory, not a regular file, larger than losstune reads, or cannot be read.",
)
UNSUPPORTED_TYPE = Code(
    "LT005", "unsupported-file-type", Severity.ERROR, "Only .py, .yaml, .yml and .json configs can be read."
)
MISSING_BASE = Code("LT006", "missing-base", Severity.ERROR, "A `_base_` entry names a file that does not exist.")
INHERITANCE_CYCLE = Code("LT007", "inheritance-cycle", Severity.ERROR, "Configs inherit from each other in a loop.")
DUPLICATE_BASE_KEY = Code(
    "LT008", "duplicate-base-key", Severity.ERROR, "Two base files define the same top-level key."
)
BASE_TYPE_CONFLICT = Code(
    "LT009", "dict-over-non-dict", Severity.ERROR, "A child dict is merged over a base value that is not a dict."
)
OPAQUE_VALUE = Code(
    "LT010", "opaque-value", Severity.WARNING, "A value cannot be known without running code; it is not guessed."
)
UNSAFE_YAML_TAG = Code(
    "LT011",
    "unsafe-yaml-tag",
    Severity.ERROR,
    "A YAML tag would build a Python object; only !!python/tuple is allowed.",
)
EVALUATION_ERROR = Code(
    "LT012", "evaluation-error", Severity.ERROR, "An expression fails (mmengine would fail to load the config too)."
)
LAZY_CONFIG = Code(
    "LT013",
    "mixed-config-styles",
    Severity.ERROR,
    "Classic (`_base_`) and new-style (`with read_base():`) configs are mixed in one chain, or a "
    "new-style config breaks its rules.",
)
RESERVED_KEY = Code("LT014", "reserved-key", Severity.ERROR, "A top-level key that mmengine reserves.")
DEPRECATED_CONFIG = Code("LT015", "deprecated-config", Severity.WARNING, "The config marks itself as deprecated.")
MISSING_ENV = Code(
    "LT016", "missing-env-variable", Severity.ERROR, "An environment template has no value and no default."
)
BAD_BASE = Code("LT017", "invalid-base", Severity.ERROR, "`_base_` is not a path or a list of paths.")
NOT_A_CONFIG = Code(
    "LT018", "not-a-config", Severity.ERROR, "A YAML or JSON file whose top level is not a mapping of config keys."
)
TEMPLATE_AS_WRITTEN = Code(
    "LT019",
    "env-template-regex",
    Severity.WARNING,
    "mmengine reads an environment template's default or value as a regular expression, and would not "
    "substitute it as written.",
)
SKIPPED_PATH = Code(
    "LT020",
    "skipped-path",
    Severity.WARNING,
    "A path met while walking a folder is not a regular file (a pipe, a device, a broken link...), is larger "
    "than losstune reads, or is a folder that cannot be read; it is skipped.",
)
CHECK_FAILED = Code(
    "LT021",
    "check-failed",
    Severity.ERROR,
    "losstune itself failed on this file (a bug in losstune); the other files are still checked.",
)
TOO_EXPENSIVE = Code(
    "LT022",
    "too-expensive",
    Severity.ERROR,
    "Evaluating the config statically would take more steps or memory than losstune allows; the value is unknown.",
)
PARSER_WARNING = Code(
    "LT023",
    "python-warning",
    Severity.WARNING,
    "Python's parser warns about this source (an invalid escape sequence, an invalid decimal literal); "
    "such source may become an error in a later Python.",
)

ALL_CODES: tuple[Code, ...] = (
    SYNTAX_ERROR,
    ENCODING_ERROR,
    EMPTY_CONFIG,
    UNREADABLE,
    UNSUPPORTED_TYPE,
    MISSING_BASE,
    INHERITANCE_CYCLE,
    DUPLICATE_BASE_KEY,
    BASE_TYPE_CONFLICT,
    OPAQUE_VALUE,
    UNSAFE_YAML_TAG,
    EVALUATION_ERROR,
    LAZY_CONFIG,
    RESERVED_KEY,
    DEPRECATED_CONFIG,
    MISSING_ENV,
    BAD_BASE,
    NOT_A_CONFIG,
    TEMPLATE_AS_WRITTEN,
    SKIPPED_PATH,
    CHECK_FAILED,
    TOO_EXPENSIVE,
    PARSER_WARNING,
)


def diagnostic(
    code: Code,
    message: str,
    span: Span | None,
    *,
    fix: str | None = None,
    key: str | None = None,
    notes: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
) -> Diagnostic:
    """A diagnostic of kind ``code`` at ``span`` (``files``: the files ``message`` names)."""
    return Diagnostic(
        code=code.code,
        name=code.name,
        severity=code.severity,
        message=message,
        span=span,
        key=key,
        fix=fix,
        notes=notes,
        files=files,
    )

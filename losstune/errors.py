"""losstune's errors: one base class, carrying the exit code the command line ends with.

Every error a losstune call raises for a reason a user can act on derives from
:class:`LosstuneError`. The command line catches that one class, in one place, and prints its
``message`` (and each of its ``details``) with its ``exit_code``; a caller of the library can do
the same. The classes live beside the code that raises them::

    LosstuneError                  (errors.py)
    ├── UsageError                 the command cannot run as asked (errors.py)
    │   ├── SettingsError          [tool.losstune] that cannot be used (lint/settings.py)
    │   └── SchemaError            a schema file that cannot be used (schema/registry.py)
    ├── ConfigError                a config that cannot be resolved; its diagnostics (model.py)
    ├── ReadError                  a path that cannot be read as a file (loader/fileread.py)
    │   └── DecodeError            a file that is not UTF-8 (loader/fileread.py)
    ├── TemplateError              an environment template with no value (loader/source.py)
    ├── NotFound                   a package or module that cannot be located (loader/pkgfind.py)
    ├── KeyPathError               a key path that names nothing, or several things (keypath.py)
    ├── EditFailure                an edit refused or undone; says what state the files are in (errors.py)
    │   ├── AssignmentError        a KEY=VALUE that cannot be understood (edit/values.py)
    │   ├── EditError              an edit that cannot be made (edit/plan.py)
    │   └── WriteError             an override that cannot be merged into a file (edit/pywrite.py)
    ├── FileChanged                a file another program changed during an edit (edit/apply.py)
    ├── InputError                 eval inputs that cannot be made or read (engine/inputs.py)
    ├── UnsupportedLoss            a loss the engine does not evaluate (engine/trace.py)
    ├── NotARecording              a file that is not a recording of loss inputs (engine/recording.py)
    └── CommandError               another error's message with what the command was doing (errors.py)

The interpreter's signals (``Unsupported``, ``PyError``, ``Unknown``, ``TooExpensive``,
``StepsSpent`` and the private ones of the readers) are not errors: they never leave the loader,
which turns each into a diagnostic or an opaque value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from losstune.model import Diagnostic

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class LosstuneError(Exception):
    """The base of losstune's errors: a message that names the file and what to do, and the exit
    code the command ends with (2: could not run)."""

    exit_code: ClassVar[int] = EXIT_ERROR

    @property
    def message(self) -> str:
        """The error as one paragraph, as the command prints it."""
        return str(self)

    @property
    def details(self) -> list[str]:
        """Further lines under the message (one finding or reason each); none by default."""
        return []

    @property
    def findings(self) -> list[Diagnostic]:
        """The lint findings behind the error (an edit that the rules refuse); none by default."""
        return []


class UsageError(LosstuneError):
    """The command cannot run as asked (a path that does not exist, arguments that do not fit)."""


class EditFailure(LosstuneError):
    """An edit that was refused or undone: ``lines`` say why, one finding or reason each, and
    ``after`` what state the files are in; ``refused_by`` holds the lint findings that refused it."""

    after: str = "nothing was written"
    lines: list[str]

    def __init__(
        self,
        message: str,
        lines: Sequence[str] = (),
        after: str = "nothing was written",
        refused_by: Sequence[Diagnostic] = (),
    ) -> None:
        super().__init__(message)
        self.lines = list(lines)
        self.after = after
        self.refused_by = list(refused_by)

    @property
    def details(self) -> list[str]:
        return self.lines

    @property
    def findings(self) -> list[Diagnostic]:
        return self.refused_by


class CommandError(LosstuneError):
    """Another error as the command reports it: its message with what the command was doing
    (``cfg.py: ...; nothing was written``), and its details."""

    def __init__(self, message: str, details: Sequence[str] = (), findings: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self._details = list(details)
        self._findings = list(findings)

    @property
    def details(self) -> list[str]:
        return self._details

    @property
    def findings(self) -> list[Diagnostic]:
        return self._findings

"""How evaluating a config expression can fail, and Python's words for it.

Three outcomes besides a value: :class:`Unsupported` (the construct cannot be evaluated without
running code; the value becomes opaque with a warning), :class:`PyError` (Python itself would
raise, and so would mmengine: an error diagnostic), :class:`Unknown` (the operation met a value
that is already unknown, so its result is unknown too, without a second warning). A Python
exception raised by an operation on config values is reported with :func:`python_message`.
"""

from __future__ import annotations

import builtins
import re
from typing import Any

# What Python raises when an operation on plain values fails. The interpreter reports these as
# the errors they are (mmengine would stop on them too); anything else is a defect of losstune.
PYTHON_ERRORS: tuple[type[Exception], ...] = (
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    MemoryError,
    RuntimeError,
    TypeError,
    ValueError,
)

# losstune's own classes, as Python would name the values they stand for.
_PYTHON_NAMES = {
    "LDict": "dict",
    "Opaque": "object",
    "Dropped": "module",
    "ModuleRef": "module",
    "LazyRef": "LazyObject",
    "Builtin": "builtin_function_or_method",
    "BoundMethod": "builtin_function_or_method",
}
_INTERNAL = re.compile(r"\b(" + "|".join(_PYTHON_NAMES) + r")\b")


class Unsupported(Exception):
    """The construct cannot be evaluated statically; its value becomes opaque."""


class PyError(Exception):
    """Python itself would raise here (and so would mmengine while loading)."""


class NoAttribute(PyError):
    """Python's ``AttributeError``: the value has no attribute of that name (``hasattr`` is
    ``False`` there, and ``getattr`` gives its default)."""


class Unknown(Exception):
    """An operation needs a value that is unknown (an opaque value inside a container)."""

    def __init__(self, value: Any) -> None:
        super().__init__("an unknown value")
        self.value = value


def python_names(message: str) -> str:
    """``message`` with losstune's class names replaced by the Python types they stand for."""
    return _INTERNAL.sub(lambda m: _PYTHON_NAMES[m.group()], message)


def python_message(error: BaseException) -> str:
    """The line Python prints for ``error``: ``TypeError: unhashable type: 'list'``."""
    text = str(error)
    name = type(error).__name__
    return python_names(f"{name}: {text}" if text else name)


def exception_type(name: str) -> type[BaseException] | None:
    """The exception class Python's built-in ``name`` is, if it is one."""
    value = getattr(builtins, name, None)
    return value if isinstance(value, type) and issubclass(value, BaseException) else None

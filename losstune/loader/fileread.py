"""Reading the files losstune is given: regular files only, of bounded size, as UTF-8 text.

Every file losstune reads (configs and their bases, schema files, ``pyproject.toml``, the source
lines shown under a finding) is read here, so that a named pipe, a device, a loop of symbolic
links or a file of a gigabyte is an error that names the file, never a hang or a runner out of
memory. The file is opened without blocking (a pipe with no writer cannot stall the open), its
kind and size are taken from the opened descriptor, and at most one byte more than the limit is
ever read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from enum import Enum

from msgspec import Struct

from losstune.errors import LosstuneError
from losstune.loader.limits import MAX_FILE_BYTES
from losstune.loader.source import SourceText

_LIMIT: ContextVar[int] = ContextVar("max_file_size", default=MAX_FILE_BYTES)
_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0)


def current_limit() -> int:
    """The largest file read where no limit is given: :data:`~losstune.loader.limits.MAX_FILE_BYTES`,
    or what :func:`limit` set."""
    return _LIMIT.get()


@contextlib.contextmanager
def limit(max_bytes: int) -> Iterator[None]:
    """Within the block, read files of at most ``max_bytes`` where no limit is given (the
    ``max-file-size`` setting, for everything one command reads)."""
    token = _LIMIT.set(max_bytes)
    try:
        yield
    finally:
        _LIMIT.reset(token)


class Problem(str, Enum):
    """Why a path cannot be read."""

    MISSING = "missing"
    LOOP = "loop"
    DIRECTORY = "directory"
    SPECIAL = "special"
    TOO_LARGE = "too-large"
    DENIED = "denied"
    NOT_UTF8 = "not-utf8"
    OTHER = "other"


class ReadError(LosstuneError):
    """A path that cannot be read as a file.

    ``reason`` completes a sentence that starts with the path (``` `a.py` is a named pipe...```);
    ``fix`` says what to do.
    """

    def __init__(self, path: str, problem: Problem, reason: str, fix: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.problem = problem
        self.reason = reason
        self.fix = fix


class Position(Struct, frozen=True):
    """Where a byte stands in a file: 1-based line and column."""

    line: int
    column: int


class DecodeError(ReadError):
    """A file that is not UTF-8 text; ``position`` is the first byte that is not."""

    def __init__(self, path: str, data: bytes, start: int) -> None:
        before = data[:start].decode("utf-8")  # everything before the first bad byte decodes
        line, column = SourceText.plain(path, before).line_col(len(before))
        super().__init__(
            path,
            Problem.NOT_UTF8,
            f"is not UTF-8 text: byte 0x{data[start]:02x} at line {line}, column {column}",
            "save the file as UTF-8",
        )
        self.position = Position(line, column)


def size_text(n: int) -> str:
    """A byte count for people: ``4 MiB``, ``1.5 GiB``, ``812 bytes``."""
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, or ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(path: str, st: os.stat_result, max_bytes: int) -> None:
    kind = _kind(st.st_mode)
    if kind is not None:
        target = os.path.realpath(path) if os.path.islink(path) else None
        leads = f"is a symbolic link to `{target}`, {kind}" if target else f"is {kind}"
        if stat.S_ISDIR(st.st_mode):
            raise ReadError(path, Problem.DIRECTORY, f"{leads}, not a file", "name a file")
        raise ReadError(
            path,
            Problem.SPECIAL,
            f"{leads}, not a regular file; losstune reads only regular files",
            "name the config file itself",
        )
    if st.st_size > max_bytes:
        raise _too_large(path, st.st_size, max_bytes)


def _too_large(path: str, size: int, max_bytes: int, at_least: bool = False) -> ReadError:
    shown = f"more than {size_text(max_bytes)}" if at_least else size_text(size)
    return ReadError(
        path,
        Problem.TOO_LARGE,
        f"is {shown}, larger than the {size_text(max_bytes)} losstune reads",
        "if it really is a config, raise `max-file-size` (in bytes) in [tool.losstune] of pyproject.toml",
    )


def _os_error(path: str, e: OSError) -> ReadError:
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        if os.path.islink(path):
            target = os.readlink(path)
            return ReadError(
                path, Problem.MISSING, f"is a symbolic link to `{target}`, which does not exist", "fix the link"
            )
        return ReadError(path, Problem.MISSING, "does not exist", "check the path")
    if e.errno == errno.ELOOP:
        return ReadError(
            path,
            Problem.LOOP,
            "is a loop of symbolic links (each one leads back to another), so it leads to no file",
            "point the link at a real file",
        )
    if e.errno in (errno.EACCES, errno.EPERM):
        return ReadError(path, Problem.DENIED, "cannot be read: permission denied", "check the file's permissions")
    return ReadError(path, Problem.OTHER, f"cannot be read: {e.strerror or e}", "check the path")


def check(path: str, max_bytes: int | None = None) -> None:
    """Raise :class:`ReadError` unless ``path`` is a regular file of at most ``max_bytes``
    (by default :func:`current_limit`), without opening it."""
    max_bytes = current_limit() if max_bytes is None else max_bytes
    try:
        st = os.stat(path)
    except OSError as e:
        raise _os_error(path, e) from None
    except ValueError as e:  # a NUL byte in the name
        raise ReadError(path, Problem.OTHER, f"cannot be read: {e}", "check the path") from None
    _refuse(path, st, max_bytes)


def read_bytes(path: str, max_bytes: int | None = None) -> bytes:
    """The content of the regular file ``path``; :class:`ReadError` for anything else or for a
    file above ``max_bytes`` (by default :func:`current_limit`)."""
    max_bytes = current_limit() if max_bytes is None else max_bytes
    check(path, max_bytes)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise _os_error(path, e) from None
    try:
        # The path may have changed since it was checked: the opened file is what counts.
        _refuse(path, os.fstat(fd), max_bytes)
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise _os_error(path, e) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise _too_large(path, len(data), max_bytes, at_least=True)
    return data


def decode(path: str, data: bytes) -> str:
    """``data`` read from ``path`` as UTF-8; :class:`DecodeError` where it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(path, data, e.start) from None


def read_text(path: str, max_bytes: int | None = None) -> str:
    """The content of the regular file ``path`` as UTF-8 text (see :func:`read_bytes`)."""
    return decode(path, read_bytes(path, max_bytes))

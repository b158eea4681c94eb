"""Writing a config file safely: atomically, into the real file, and never over a change not read.

The new text goes to a temporary file beside the real file (a symlink is followed and kept),
which gets the old file's mode, owner and group (as far as the user may set them), and is renamed
over it, so a reader never sees half a file. Just before the rename the file is read again and
compared with the text the edit was planned from; just after it, the replaced file is read once
more, in case a write reached it in between. Either way the other program's text stays, and
:class:`FileChanged` says so.

Temporary files are named ``.losstune-<file name>.<host>.<pid>.<random>.tmp``: they are removed
on every path out of a write, and one left behind by a killed run is removed by the next write of
the same file. A file with several hard links is replaced under the name being edited only: the
other names keep the old text (:func:`write_notes` says so before anything is written).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable

from losstune.edit.lock import locked
from losstune.errors import LosstuneError
from losstune.render import paths

__all__ = [
    "FileChanged",
    "atomic_write",
    "check_writable",
    "holds",
    "locked",
    "remove_stale_temps",
    "restore",
    "write_notes",
]

_PREFIX = ".losstune-"
_SUFFIX = ".tmp"
STALE_SECONDS = 15 * 60
_BOM = b"\xef\xbb\xbf"


class FileChanged(LosstuneError):
    """The file is not the text the edit was planned from: another program changed it."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _temp_stem(real: str) -> str:
    return _PREFIX + os.path.basename(real)[:100] + "."


def _create_temp(real: str) -> tuple[int, str]:
    folder = os.path.dirname(real)
    while True:
        name = f"{_temp_stem(real)}{_host()}.{os.getpid()}.{secrets.token_hex(4)}{_SUFFIX}"
        tmp = os.path.join(folder, name)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temps(path: str) -> None:
    """Remove the temporary files a killed ``losstune`` run left beside the file ``path`` names:
    those of a process of this machine that no longer exists, and any older than 15 minutes."""
    real = os.path.realpath(path)
    folder, stem = os.path.dirname(real), _temp_stem(real)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(stem) and n.endswith(_SUFFIX)]
    except OSError:
        return
    host, now = _host(), time.time()
    for name in names:
        parts = name[len(stem) : -len(_SUFFIX)].split(".")
        full = os.path.join(folder, name)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        try:
            age = now - os.lstat(full).st_mtime
        except OSError:
            continue
        dead = parts[0] == host and int(parts[1]) != os.getpid() and not _alive(int(parts[1]))
        if dead or age > STALE_SECONDS:
            with contextlib.suppress(OSError):
                os.unlink(full)


def _read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _is(data: bytes, text: str) -> bool:
    """Whether the file's bytes are ``text`` (as losstune reads it: UTF-8, a BOM not counted)."""
    encoded = text.encode("utf-8", "surrogateescape")
    return data == encoded or (data.startswith(_BOM) and data[len(_BOM) :] == encoded)


def _keep_owner_and_mode(fd: int, st: os.stat_result | None) -> None:
    if st is None:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        return
    for owner in ((st.st_uid, st.st_gid), (-1, st.st_gid)) if hasattr(os, "fchown") else ():
        try:
            os.fchown(fd, *owner)
            break
        except OSError:
            continue
    os.fchmod(fd, stat.S_IMODE(st.st_mode))  # after chown, which may clear set-id bits


def atomic_write(path: str, text: str, expected: str | None = None, *, new_file: bool = False) -> None:
    """Replace the file ``path`` names by ``text`` in one rename (creating it if it is missing).

    With ``expected``, the file must still hold exactly that text: if it does not (before the
    rename, or through a write that reached the old file during it), the other program's text is
    kept and :class:`FileChanged` is raised. With ``new_file``, it must not exist
    (``FileExistsError`` otherwise, even for a file made during the write). ``path`` may be a
    symlink: the file it points to is written and the link stays. Mode, owner and group are kept.
    """
    real = os.path.realpath(path)
    remove_stale_temps(real)
    try:
        st: os.stat_result | None = None if new_file else os.stat(real)
    except FileNotFoundError:
        if expected is not None:  # removed since it was read
            raise FileChanged(path) from None
        st = None
    data = text.encode("utf-8", "surrogateescape")
    if st is not None and expected is not None:
        with open(real, "rb") as f:
            if f.read(len(_BOM)) == _BOM and not data.startswith(_BOM):
                data = _BOM + data  # keep the byte-order mark losstune does not count as text
    check = None if expected is None else (lambda old: _is(old, expected))
    displaced = _put(real, data, st, check)
    if displaced is not None:
        # Another program wrote to the file between the check and the rename: its text goes
        # back (unless the new file has changed again since), and the edit is planned again.
        _put(real, displaced, st, lambda now: now == data)
        raise FileChanged(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _put(real: str, data: bytes, st: os.stat_result | None, check: Callable[[bytes], bool] | None) -> bytes | None:
    """Write ``data`` to ``real`` through a temporary file; with ``check``, only over a file whose
    bytes pass it. The replaced file's bytes when they changed after the check, else ``None``."""
    fd, tmp = _create_temp(real)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
            _keep_owner_and_mode(fd, st)
        finally:
            os.close(fd)
        if st is None:
            _create(tmp, real)
            return None
        if check is None:
            os.replace(tmp, real)
            return None
        return _replace_checked(tmp, real, check)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _create(tmp: str, real: str) -> None:
    """Put ``tmp`` at ``real``, which must not exist: a file made there meanwhile is kept
    (``FileExistsError``)."""
    try:
        os.link(tmp, real)
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(real):  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), real) from None
        os.replace(tmp, real)


def _replace_checked(tmp: str, real: str, check: Callable[[bytes], bool]) -> bytes | None:
    try:
        fd = os.open(real, os.O_RDONLY)
    except FileNotFoundError:
        raise FileChanged(real) from None
    try:
        before = _read_fd(fd)
        if not check(before):
            raise FileChanged(real)
        os.replace(tmp, real)
        after = _read_fd(fd)
    finally:
        os.close(fd)
    return after if after != before else None


def holds(path: str, text: str) -> bool:
    """Whether the file ``path`` names holds ``text``."""
    try:
        with open(os.path.realpath(path), "rb") as f:
            return _is(f.read(), text)
    except OSError:
        return False


def restore(path: str, old: str, written: str, created: bool) -> bool:
    """Put back the text ``path`` had before an edit that wrote ``written`` (or remove a file the
    edit created); only while it still holds ``written``. Whether it was put back."""
    real = os.path.realpath(path)
    if created:
        if not holds(real, written):
            return False
        try:
            os.unlink(real)
        except OSError:
            return False
        return True
    try:
        atomic_write(path, old, expected=written)
    except (FileChanged, OSError):
        return False
    return True


def check_writable(path: str) -> str | None:
    """Why the file ``path`` names cannot be written, or ``None``."""
    real = os.path.realpath(path)
    folder = os.path.dirname(real)
    shown, shown_folder = paths.shown(os.path.abspath(path)), paths.shown(os.path.dirname(os.path.abspath(path)))
    if not os.path.exists(folder):
        return f"the folder `{shown_folder}` of `{shown}` does not exist; create it first"
    if not os.path.isdir(folder):
        return f"`{shown_folder}` is not a folder, so `{shown}` cannot be written"
    if os.path.exists(real) and not os.access(real, os.W_OK):
        return f"`{shown}` is read-only"
    if not os.access(folder, os.W_OK):
        return f"the folder of `{shown}` is not writable"
    return None


def write_notes(path: str, shown: str) -> list[str]:
    """What replacing the file ``path`` names does besides changing its text: a hard link that
    stops sharing it, an owner or group the user may not keep."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    notes = []
    if st.st_nlink > 1:
        others = st.st_nlink - 1
        notes.append(
            f"`{shown}` has {others} other hard link{'s' if others > 1 else ''}: the edit writes a new file "
            f"under this name, and the other name{'s keep' if others > 1 else ' keeps'} the old text"
        )
    getuid = getattr(os, "geteuid", None)
    if getuid is not None and getuid() != 0:
        if st.st_uid != getuid():
            notes.append(f"`{shown}` belongs to another user (uid {st.st_uid}); the edited file will be yours")
        elif st.st_gid not in (os.getegid(), *os.getgroups()):
            notes.append(f"`{shown}` has a group you are not in (gid {st.st_gid}); the edited file gets yours")
    return notes

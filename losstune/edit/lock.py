"""One ``losstune set`` at a time per file: advisory locks keyed on the real file.

Why a lock file per real path, in a folder of the user's own:

- The key is the file's resolved path (``os.path.realpath``), so ``cfg.py``, ``./cfg.py``, its
  absolute path and a path through a symlinked folder all take the same lock.
- The lock is not taken on the config itself: every edit renames a new file over it, so a lock
  held on the old file would not exclude a writer that opens the new one. Device and inode change
  with that rename for the same reason, so they cannot be the key either.
- The folder is ``$XDG_RUNTIME_DIR/losstune``, else ``losstune-<uid>`` in the temporary folder,
  else ``~/.cache/losstune/locks``: created with mode 0700 and used only when it is a real folder
  owned by the user. Users never share (or block) each other's locks: a folder someone else made
  under that name is passed over.
- A lock file is removed by its holder before it lets go, so they do not pile up; a waiter that
  then finds its file gone (or replaced) simply takes the lock again.

Locks are advisory: they order losstune's own writers. Changes made by other programs are caught
by the content check just before the rename (see :mod:`losstune.edit.apply`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator

from losstune.edit.plan import EditError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

WAIT_SECONDS = 60.0


def _uid() -> int:
    getuid = getattr(os, "getuid", None)
    return int(getuid()) if getuid is not None else 0


def _private_folder(folder: str) -> bool:
    """Whether ``folder`` is (or has just been made) a folder only this user can use."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != _uid():
        return False
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    return True


def lock_folder() -> str:
    """The user's own folder for lock files: the first of ``$XDG_RUNTIME_DIR/losstune``,
    ``losstune-<uid>`` in the temporary folder and ``~/.cache/losstune/locks`` that is a folder
    of the user's only (every process of the user goes through them in the same order)."""
    candidates = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        candidates.append(os.path.join(runtime, "losstune"))
    candidates.append(os.path.join(tempfile.gettempdir(), f"losstune-{_uid()}"))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(os.path.join(cache, "losstune", "locks"))
    for folder in candidates:
        with contextlib.suppress(OSError):
            os.makedirs(os.path.dirname(folder), exist_ok=True)
        if _private_folder(folder):
            return folder
    raise EditError(
        f"`{candidates[-2]}` (where losstune keeps its locks) is not a folder of yours, nor is "
        f"`{candidates[-1]}`; remove them, or point TMPDIR at a folder of your own"
    )


def lock_key(path: str) -> str:
    """The name of the lock of ``path``: the same for every spelling of the same file."""
    return hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()[:40]


@contextlib.contextmanager
def locked(path: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the exclusive edit lock of the file ``path`` names (waiting up to ``wait`` seconds)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    name = os.path.join(lock_folder(), lock_key(path) + ".lock")
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _acquire(fd, path, deadline)
            if _still_there(fd, name):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # its holder removed it as we waited: take the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
        os.close(fd)


def _acquire(fd: int, path: str, deadline: float) -> None:
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise EditError(
                    f"another `losstune set` has been editing `{path}` for more than {WAIT_SECONDS:g} s; "
                    "try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _still_there(fd: int, name: str) -> bool:
    try:
        now = os.stat(name)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


@contextlib.contextmanager
def locked_all(paths: Iterable[str]) -> Iterator[None]:
    """Hold the locks of several files, taken in one order so that two writers never deadlock."""
    with contextlib.ExitStack() as stack:
        for real in sorted({os.path.realpath(p) for p in paths}):
            stack.enter_context(locked(real))
        yield

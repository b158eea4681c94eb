"""Writing edited configs safely: one writer at a time, atomically, and only if the result
resolves to exactly what was asked for.

Each file is written to a temporary file in its folder and renamed over the original (its
permissions kept), so a reader never sees half a file. A lock per config makes a second
``losstune set`` on the same file wait and then edit the first one's result, so neither edit is
lost. After writing, the config is resolved again; if it does not give the planned values, every
file is put back as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock for edits of ``path`` (a lock file outside the user's tree)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    folder = os.path.join(tempfile.gettempdir(), "losstune-locks")
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(os.path.abspath(path).encode()).hexdigest() + ".lock"
    with open(os.path.join(folder, name), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write(path: str, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename, keeping the file's permissions."""
    folder = os.path.dirname(os.path.abspath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".losstune-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_writable(path: str) -> str | None:
    """Why ``path`` cannot be replaced, or ``None``."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"`{path}` is read-only"
    if not os.access(folder, os.W_OK):
        return f"the folder of `{path}` is not writable"
    return None

"""Files losstune writes whole for the user (a plot, a baseline, a saved batch): written to a
temporary file beside the target and renamed over it, so that the target is either as it was or
complete, never half-written, even if the process is killed in the middle."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO


def write_whole(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a new file beside ``path``, then rename it to ``path``. The file gets the
    permissions a plain ``open`` gives under the user's umask (not ``mkstemp``'s 0600); on any
    failure the temporary file is removed and ``path`` is left as it was. A symbolic link is
    written through: the file it names is replaced, the link kept."""
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise

"""Reading the tensor files losstune is given (``eval --inputs``, a recording, a saved batch):
regular files only, read as data, never as code; and writing those it makes, whole.

A named pipe or a device would block ``torch.load`` for ever, so the path is checked first, as
the loader checks a config; ``torch.load`` runs with ``weights_only=True`` (tensors, containers,
numbers and strings: no object of the file's choosing is built) and NumPy's with
``allow_pickle=False``.
"""

from __future__ import annotations

import sys
from typing import Any

from losstune.errors import LosstuneError
from losstune.loader import fileread


class TensorFileError(LosstuneError):
    """A tensor file that cannot be read: its path, and why, in a sentence that starts with it;
    ``opened`` when the file itself was read and its content is what the reader refused."""

    def __init__(self, path: str, reason: str, opened: bool) -> None:
        super().__init__(f"`{path}` {reason}")
        self.path = path
        self.reason = reason
        self.opened = opened


def _regular(path: str) -> None:
    try:
        fileread.check(path, sys.maxsize)
    except fileread.ReadError as e:
        raise TensorFileError(path, e.reason, opened=False) from None


def _why(e: Exception) -> str:
    """The first sentence of what the reader said (torch's messages run to a page)."""
    text = str(e).strip()
    return text.split(". ")[0].splitlines()[0].rstrip(".") if text else "the file is empty or cut short"


def load(path: str) -> Any:
    """What the torch file ``path`` holds, on the CPU."""
    _regular(path)
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch's warnings about a file are its own; losstune says what it refuses
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # cut short, not a torch file, unpickling refused: said in one line
        raise TensorFileError(
            path, f"cannot be read by torch.load(..., weights_only=True) ({type(e).__name__}: {_why(e)})", opened=True
        ) from None


def save(path: str, data: Any) -> None:
    """Write ``data`` with ``torch.save`` to ``path`` whole (:func:`~losstune.outfile.write_whole`):
    a write that fails (a full disk, a file size limit) is the ``OSError`` that says why, and leaves
    ``path`` as it was."""
    import torch

    from losstune.outfile import write_whole

    def write(f: Any) -> None:
        try:
            torch.save(data, f)
        except RuntimeError as e:  # torch's zip writer says a failed write as its own error
            if isinstance(e.__context__, OSError):
                raise e.__context__ from None
            raise

    write_whole(path, write)


def load_npz(path: str) -> dict[str, Any]:
    """The arrays of the NumPy ``.npz`` file ``path``, by name."""
    _regular(path)
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as e:  # not an npz archive, cut short, an object array
        raise TensorFileError(
            path, f"cannot be read by numpy.load ({type(e).__name__}: {_why(e)})", opened=True
        ) from None

"""Python's cycle collector held off while a file is parsed and compiled, and kept off the
syntax tree while it is interpreted.

``ast.parse`` and ``compile`` make many small objects and no reference cycles, and every one of
them is freed by reference counting alone; yet each allocation counts toward the collector's
next pass, which then walks every object the process keeps (the parsed files of a whole config
tree, in a long lint run) for nothing. Pausing it there halves the time of a parse in such a
process. The collector is enabled again when the outermost pause ends, unless it was off at
the start; what was made in the pause (a syntax tree to keep) then goes straight to the oldest
generation, where only a full pass looks, rather than being walked by the young generations'
passes first, and the young cycles made before the pause are freed as it begins.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """Hold off the cycle collector inside the block (nested blocks and threads share one pause).

    Outside a :func:`frozen` block, the young generations are collected as the outermost pause
    begins, and what the process holds when it ends is moved to the oldest generation
    (``gc.freeze`` and ``gc.unfreeze``, which move lists of objects without walking them)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
            if _was_enabled and _frozen_depth == 0:
                gc.collect(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                if _frozen_depth == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


_frozen_depth = 0


@contextmanager
def frozen() -> Iterator[None]:
    """Leave out of the cycle collector's passes, inside the block, every object the process
    held when the outermost such block began (a parsed file's syntax tree among them): the
    collector still runs and still frees the cycles made inside the block, but it no longer
    walks, pass after pass, what was there before. A config's own garbage is collected as
    always, so its budgets bound memory as before.

    The youngest generation is collected first: what the block freezes returns to the oldest
    generation when it ends, where only a full pass, which the collector rarely starts by itself,
    would free it; the cycles made since the last pass (the garbage of the file checked before)
    are freed now instead. That pass walks only the objects made since the last one."""
    global _frozen_depth
    with _lock:
        if _frozen_depth == 0:
            gc.collect(0)
            gc.freeze()
        _frozen_depth += 1
    try:
        yield
    finally:
        with _lock:
            _frozen_depth -= 1
            if _frozen_depth == 0:
                gc.unfreeze()

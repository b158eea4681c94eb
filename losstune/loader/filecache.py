"""Parsed files and resolved bases, kept for the life of the process and never served stale.

``losstune.load(path)`` in a loop over a tree of configs reads the same base files again and
again; :data:`PROCESS_CACHE` keeps what they parse and resolve to, so each is read once.

A kept file is used again only while it is the same file: the same device and inode, size,
modification time and status-change time (in nanoseconds, all taken before the file was read).
A file whose status changed less than :data:`RACY_NS` before it was read may change again within
the timestamps' resolution without its stamp showing it (as git's index knows), so such a file is
read again and compared with the kept text each time until it is older. What a file's templates
read from the environment is part of what it is: a kept template result is used only for the
same values of those variables. A resolved base is used again only while every file it was made
from is, and never when it had an error (a missing file might appear) or depended on a package
lookup. Both caches are bounded (least recently used first out).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING

from msgspec import Struct

from losstune.loader import fileread
from losstune.loader.frontend import ParsedFile

if TYPE_CHECKING:
    from losstune.loader.resolve import FileResult

RACY_NS = 2_000_000_000
MAX_FILES = 2048
MAX_TEXT_CHARS = 32 * 1024 * 1024
MAX_RESULTS = 2048


class Stamp(Struct, frozen=True):
    """What identifies one state of a file without reading it."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str) -> Stamp | None:
        """The stamp of the file at ``path`` now (``None`` when it cannot be had)."""
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Kept(Struct):
    parsed: ParsedFile
    stamp: Stamp | None
    trusted: bool  # the stamp alone says the file is unchanged


MadeFrom = tuple[tuple[str, ParsedFile, tuple[str | None, ...] | None], ...]


class _Result(Struct, frozen=True):
    result: FileResult
    height: int  # the files in its longest chain of bases, itself included
    # Each file the result was made from, as parsed then, and the values of its templates' variables.
    made_from: MadeFrom
    classic_on_top: bool  # the file is a classic config read as written too (valid for a top-level load)


class FileCache:
    """Parsed files by path, and resolved bases by path and the options that decide them."""

    def __init__(
        self, max_files: int = MAX_FILES, max_text_chars: int = MAX_TEXT_CHARS, max_results: int = MAX_RESULTS
    ) -> None:
        self.max_files, self.max_text_chars, self.max_results = max_files, max_text_chars, max_results
        self._files: OrderedDict[tuple[str, int], _Kept] = OrderedDict()
        self._chars = 0
        self._results: OrderedDict[tuple[object, ...], _Result] = OrderedDict()

    def clear(self) -> None:
        """Forget everything."""
        self._files.clear()
        self._results.clear()
        self._chars = 0

    def __len__(self) -> int:
        """The number of parsed files kept."""
        return len(self._files)

    def results_kept(self) -> int:
        """The number of resolved bases kept."""
        return len(self._results)

    # -- parsed files ------------------------------------------------------------------------

    def unchanged(self, abspath: str, limit: int) -> ParsedFile | None:
        """The kept parse of the file, if its stamp alone says it is unchanged."""
        kept = self._files.get((abspath, limit))
        if kept is None or not kept.trusted or kept.stamp is None or Stamp.of(abspath) != kept.stamp:
            return None
        self._files.move_to_end((abspath, limit))
        return kept.parsed

    @staticmethod
    def stamp(abspath: str) -> tuple[Stamp | None, int]:
        """The file's stamp and the time, to be taken before it is read."""
        return Stamp.of(abspath), time.time_ns()

    def keep(self, abspath: str, limit: int, text: str, stamp: tuple[Stamp | None, int]) -> ParsedFile:
        """The parse of ``text``, read from the file after :meth:`stamp` gave ``stamp``: the kept
        one when the text is the same, else a new one, kept."""
        key = (abspath, limit)
        kept = self._files.get(key)
        st, before_read = stamp
        trusted = st is not None and st.ctime_ns < before_read - RACY_NS and st.mtime_ns < before_read - RACY_NS
        if kept is not None and kept.parsed.text == text:
            kept.stamp, kept.trusted = st, trusted
            self._files.move_to_end(key)
            return kept.parsed
        parsed = ParsedFile(abspath, text)
        if kept is not None:
            self._chars -= len(kept.parsed.text)
        self._files[key] = _Kept(parsed, st, trusted)
        self._files.move_to_end(key)
        self._chars += len(text)
        while self._files and (len(self._files) > self.max_files or self._chars > self.max_text_chars):
            _, old = self._files.popitem(last=False)
            self._chars -= len(old.parsed.text)
        return parsed

    def current(self, abspath: str, limit: int) -> ParsedFile | None:
        """The kept parse of the file if it is still what the file holds (read again to compare
        when its stamp alone cannot say), else ``None``."""
        found = self.unchanged(abspath, limit)
        if found is not None:
            return found
        kept = self._files.get((abspath, limit))
        if kept is None:
            return None
        stamp = self.stamp(abspath)
        try:
            text = fileread.read_text(abspath, limit)
        except fileread.ReadError:
            return None
        if text.startswith("\ufeff") and abspath.endswith((".yaml", ".yml")):
            text = text[1:]
        if text != kept.parsed.text:
            return None
        return self.keep(abspath, limit, text, stamp)

    # -- resolved bases ----------------------------------------------------------------------

    def result(
        self, key: tuple[object, ...], top: bool, env: Mapping[str, str] | None
    ) -> tuple[FileResult, int, MadeFrom] | None:
        """The kept result for ``key`` while every file it was made from is unchanged (``top``
        asks for a config loaded itself rather than inherited), with its height and the files
        it was made from."""
        kept = self._results.get(key)
        if kept is None or (top and not kept.classic_on_top):
            return None
        limit = key[-1]
        assert isinstance(limit, int)
        for path, parsed, values in kept.made_from:
            if self.current(path, limit) is not parsed or parsed.env_values(env) != values:
                del self._results[key]
                return None
        self._results.move_to_end(key)
        return kept.result, kept.height, kept.made_from

    def keep_result(
        self,
        key: tuple[object, ...],
        result: FileResult,
        height: int,
        made_from: list[tuple[str, ParsedFile, tuple[str | None, ...] | None]],
        classic_on_top: bool,
    ) -> None:
        """Keep ``result`` (of a base with no error) for :meth:`result`."""
        self._results[key] = _Result(result, height, tuple(made_from), classic_on_top)
        self._results.move_to_end(key)
        while len(self._results) > self.max_results:
            self._results.popitem(last=False)


PROCESS_CACHE = FileCache()
"""The cache every :class:`~losstune.loader.resolve.Resolver` uses unless it is given another."""

"""The configs that inherit an edited base, for ``losstune set --in-base``.

The search covers the config's own project only (the nearest folder above it that holds a
``pyproject.toml`` or a ``.git``, else the top of the folder tree its edited bases sit in, or the
folder the user names), and runs for a bounded time. It runs beside the edit, in a thread of its
own, so that a file that is slow to read (or never finishes) costs at most the budget: such a file,
or one that cannot be resolved, becomes a note, never a reason the edit stops.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Mapping, Sequence

from msgspec import Struct, field

from losstune.loader import fileread, pyast, pysource
from losstune.loader.resolve import Resolver
from losstune.loader.values import same_value, to_plain
from losstune.model import Severity
from losstune.render import paths

SCAN_SECONDS = 5.0
MAX_CONFIGS = 5000
_PROJECT_MARKERS = ("pyproject.toml", ".git")
# Every config that inherits names `_base_` (classic) or `read_base` (new-style) in its text.
_INHERITS = (b"_base_", b"read_base")
_SNIFF_BYTES = 1 << 22


class Inheritors(Struct):
    """What the search found: the folder searched, the configs that inherit any edited file (in
    the order of the folder walk), and a sentence for each file it could not check. Where the
    edited files' new texts were given, ``configs`` holds those the edit changes, and
    ``unaffected`` those that inherit an edited file but resolve as before (they override or
    delete what the edit changes). Of what could not be checked, ``unresolved`` lists the files
    that could not be resolved (each has its sentence in ``unchecked`` too), and ``incomplete``
    says what the search did not reach (out of time, too many files); ``timed_out``, whether it
    ran out of time."""

    root: str
    configs: list[str] = field(default_factory=list)
    unaffected: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    timed_out: bool = False


class KeptTree(Struct):
    """What a search read of the folder it searched, kept for the next search of that folder:
    the files of its walk and what the texts of each name; ``stale`` are the files whose text
    changed since (read again by the next search). A file created or deleted needs a new one."""

    files: list[str] | None = None
    names: _Names | None = None
    stale: set[str] = field(default_factory=set)


def project_root(config: str, files: Sequence[str]) -> str:
    """The folder to search: the nearest one at or above ``config``'s folder that holds a
    ``pyproject.toml`` or ``.git`` (below the last folder on the way down to ``config`` that a walk
    does not go into, such as a hidden one); else the folder that holds ``config`` and every edited
    file, taken above a ``_base_`` folder (configs sit beside their ``_base_`` folder, not in it)."""
    here = os.path.dirname(os.path.abspath(config))
    folder = here
    while True:
        if any(os.path.exists(os.path.join(folder, m)) for m in _PROJECT_MARKERS):
            return _reaching(folder, here)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    top = os.path.commonpath([here, *(os.path.dirname(os.path.abspath(f)) for f in files)])
    parts = top.split(os.sep)
    if "_base_" in parts:
        top = os.sep.join(parts[: parts.index("_base_")]) or os.sep
    return top


def _reaching(root: str, here: str) -> str:
    """``root``, or the folder below it from which a walk reaches ``here``."""
    from losstune.lint.run import walks_into

    parts = os.path.relpath(here, root).split(os.sep)
    skipped = [i for i, part in enumerate(parts) if part not in (os.curdir, os.pardir) and not walks_into(part)]
    return os.path.join(root, *parts[: skipped[-1] + 1]) if skipped else root


def find_inheritors(
    config: str,
    files: Sequence[str] | Mapping[str, str],
    scan: str | None = None,
    seconds: float | None = None,
    *,
    by_name: bool = False,
    resolver: Resolver | None = None,
    kept: KeptTree | None = None,
) -> Inheritors:
    """The configs under ``scan`` (default: :func:`project_root`) that inherit any of ``files``,
    found within ``seconds`` (default :data:`SCAN_SECONDS`). Configs inside ``_base_`` folders are
    bases, and are not listed. With ``files`` a mapping of each edited file to its new text, each
    inheritor is resolved with the new texts too, and is listed in ``configs`` only if it changes.
    What could not be checked comes first in ``unchecked``: the search as a whole (out of time,
    too many files), then each file. With ``by_name``, only the configs whose text names one of
    ``files`` (or a file that names one, and so on) are resolved: a config can only inherit a file
    whose name (``x`` of ``x.py``) it, or one of its bases, writes. A ``resolver`` given resolves
    the configs (and keeps what it resolved for the caller), and its overlay gives the texts to
    read instead of the files on disk (an editor's unsaved buffers); where the search ran out of
    time (``timed_out``), it may still be resolving a file with it. What the search reads of the
    folder (its files, what each names) is kept in ``kept``, if given, for the next search of the
    same folder with it (which reads again only the files ``kept.stale`` names); one that ran out
    of time may still be reading into it: give the next search a new one."""
    seconds = SCAN_SECONDS if seconds is None else seconds
    root = os.path.abspath(scan) if scan is not None else project_root(config, list(files))
    texts = {os.path.abspath(f): t for f, t in files.items()} if isinstance(files, Mapping) else None
    search = _Search(
        root, os.path.dirname(os.path.abspath(config)), {os.path.abspath(f) for f in files}, texts, resolver
    )
    search.by_name = by_name
    search.kept = kept
    worker = threading.Thread(target=search.run, name="losstune-inheritors", daemon=True)
    worker.start()
    worker.join(seconds)
    return search.outcome(seconds, timed_out=worker.is_alive())


class _Search:
    """The search, run in a worker thread; :meth:`outcome` reads what it has done so far."""

    def __init__(
        self, root: str, near: str, wanted: set[str], texts: dict[str, str] | None, resolver: Resolver | None
    ) -> None:
        self.root, self.near, self.wanted, self.texts = root, near, wanted, texts
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.candidates: list[str] | None = None  # None while the folder is still being walked
        self.truncated = False
        self.current: str | None = None
        self.checked: set[str] = set()
        self.found: list[str] = []
        self.unaffected: list[str] = []
        self.problems: list[tuple[str, str]] = []
        self.by_name = False
        self.kept: KeptTree | None = None
        self.resolver = resolver or Resolver()
        self.overlay = self.resolver.overlay
        self.edited = Resolver(overlay={**self.overlay, **texts}) if texts is not None else None

    def run(self) -> None:
        from losstune.lint.run import collect

        kept = self.kept
        try:
            walked = kept.files if kept is not None and kept.files is not None else collect([self.root]).files
        except Exception as e:  # a folder that cannot be walked is a note, like any file
            with self.lock:
                self.candidates = []
                self.problems.append((self.root, f"the folder cannot be searched ({_reason(e)})"))
            return
        if kept is not None:
            kept.files = walked
        if self.by_name:
            self._run_by_name(walked[:MAX_CONFIGS], len(walked) > MAX_CONFIGS)
            return
        candidates = [f for f in walked if not _in_base_folder(f)]
        with self.lock:
            self.truncated = len(candidates) > MAX_CONFIGS
            self.candidates = candidates[:MAX_CONFIGS]
        # Nearest first: when time runs out, the configs beside the edited one have been checked.
        for path in sorted(self.candidates, key=self._distance):
            if self.stop.is_set():
                return
            self._check(path)

    def _run_by_name(self, walked: list[str], truncated: bool) -> None:
        """Resolve only the files that name one of ``wanted``, or a file known to inherit one, round
        after round until a round finds no new one; base files are resolved too (a config may
        inherit through them), but never listed."""
        kept = self.kept
        if kept is not None and kept.names is not None:
            names = kept.names
            for path in kept.stale:
                names.read(path, self.overlay)
        else:
            names = _Names(walked, self.overlay)
        if kept is not None:
            kept.names, kept.stale = names, set()
        with self.lock:
            self.truncated = truncated
            self.candidates = list(walked)
        known = {_stem(w) for w in self.wanted}
        new = set(known)
        pending = list(walked)
        # An edited file is resolved too: it inherits itself, as the search without names finds.
        edited = {f for f in walked if os.path.abspath(f) in self.wanted}
        while new and not self.stop.is_set():
            named = [f for f in pending if names.may_name(f, new) or f in edited]
            chosen = set(named)
            pending = [f for f in pending if f not in chosen]
            new = set()
            for path in sorted(named, key=self._distance):
                if self.stop.is_set():
                    return
                if self._check(path, listed=not _in_base_folder(path)) and _stem(path) not in known:
                    known.add(_stem(path))
                    new.add(_stem(path))
        if self.stop.is_set():
            return
        with self.lock:
            self.checked.update(pending)  # they name no file that inherits: none of them can

    def _check(self, path: str, listed: bool = True) -> bool:
        """Resolve ``path`` and record whether it inherits an edited file (and whether the edit
        changes it), or why it could not be checked; whether it inherits."""
        with self.lock:
            self.current = path
        problem = None
        inherits = changes = False
        try:
            if _may_inherit(path, self.overlay):
                result = self.resolver.resolve(path)
                inherits = bool(self.wanted & {os.path.abspath(f) for f in result.files})
                changes = inherits and (self.edited is None or _changes(result.cfg, self.edited.resolve(path).cfg))
                errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
                if not inherits and errors:
                    span = f" ({paths.position(errors[0].span, column=False)})" if errors[0].span else ""
                    problem = f"{paths.message(errors[0])}{span}"
        except Exception as e:  # whatever goes wrong in one file, the edit goes on
            problem = f"losstune failed on it ({_reason(e)})"
        with self.lock:
            self.current = None
            self.checked.add(path)
            if changes and listed:
                self.found.append(path)
            elif inherits and listed:
                self.unaffected.append(path)
            if problem is not None:
                self.problems.append((path, problem))
        return inherits

    def _distance(self, path: str) -> tuple[int, str]:
        rel = os.path.relpath(os.path.dirname(path), self.near)
        return (0 if rel == os.curdir else len(rel.split(os.sep)), path)

    def outcome(self, seconds: float, timed_out: bool) -> Inheritors:
        """Stop the search and say what it found, and what it could not check."""
        self.stop.set()
        with self.lock:
            candidates = self.candidates
            order = {p: i for i, p in enumerate(candidates or [])}

            def walked(p: str) -> int:
                return order.get(p, len(order))

            out = Inheritors(self.root, sorted(self.found, key=walked), sorted(self.unaffected, key=walked))
            out.timed_out = timed_out
            shown = paths.shown(self.root)
            budget = f"the {seconds:g} s the search may take"
            search: list[str] = []  # what the search as a whole did not reach
            if candidates is None:
                search.append(
                    f"could not list the configs under {shown} within {budget}; name a smaller folder with --scan DIR"
                )
            else:
                left = [p for p in candidates if p not in self.checked and p != self.current]
                if timed_out and left:
                    search.append(
                        f"{len(left)} more file(s) under {shown} were not checked within {budget}; "
                        "name a smaller folder with --scan DIR"
                    )
                if self.truncated:
                    search.append(
                        f"only {MAX_CONFIGS} files under {shown} were searched; name a smaller folder with --scan DIR"
                    )
            problems = list(self.problems)
            if timed_out and self.current is not None:
                problems.append((self.current, f"it took longer than {budget}"))
            said = [f"could not check {paths.shown(p)}: {why}" for p, why in problems]
            out.unchecked = search + said
            unresolved = {p for p, _ in self.problems if p != self.root}
            out.unresolved = sorted(unresolved, key=walked)
            out.incomplete = search + [n for (p, _), n in zip(problems, said, strict=True) if p not in unresolved]
        return out


def _changes(before: object, after: object) -> bool:
    """Whether a config resolves differently with the edited texts (or no longer resolves)."""
    return before is None or after is None or not same_value(to_plain(before), to_plain(after))


_SUFFIXES = (".py", ".yaml", ".yml", ".json")
_ADJACENT = re.compile(rb"""['"]\s*['"]""")


def _stem(path: str) -> bytes:
    name = os.path.basename(path)
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return os.fsencode(name)


_WORD = re.compile(rb"[\w\-\x80-\xff]+")
# The bytes of a word (`_WORD`) kept, every other byte made a space: the words of a text are then
# its parts split at spaces, found faster than by the pattern.
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") | frozenset(
    range(0x80, 0x100)
)
_SPACE_OUT = bytes(c if c in _WORD_BYTES else 0x20 for c in range(256))


@functools.lru_cache(maxsize=4096)
def _is_word(stem: bytes) -> bool:
    return _WORD.fullmatch(stem) is not None


# Up to this many names are looked for in a text directly; for more, the text's words are
# collected once and each name looked up among them, in that round and every later one.
_FEW_STEMS = 8


@functools.lru_cache(maxsize=4096)
def _mention(stem: bytes) -> re.Pattern[bytes]:
    """How a config names the file ``stem``: as the last part of a ``_base_`` path (mmengine takes
    only .py, .json, .yaml and .yml files) or as the module of a ``read_base()`` import."""
    return re.compile(rb"(?<![\w-])" + re.escape(stem) + rb"(?:\.(?:py|json|yaml|yml)(?![\w-])|\s+import(?![\w-]))")


class _Names:
    """What the files of a search write, to tell which may name a file: a config names the files
    it inherits in its ``_base_`` paths (``'./a_b.py'``) or ``read_base()`` imports (``from .a_b
    import *``)."""

    def __init__(self, files: list[str], overlay: Mapping[str, str]) -> None:
        # Only a file that names `_base_` or `read_base` can inherit (see _may_inherit); one that
        # cannot be read is None, and is resolved (the resolver says what is wrong with it).
        self.texts: dict[str, bytes | None] = {}
        self._words: dict[str, set[bytes]] = {}
        # The length of the text a file's kept text repeats (no names split over literals to
        # join): its words are those of that first part.
        self._repeats: dict[str, int] = {}
        for f in files:
            self.read(f, overlay)

    def read(self, f: str, overlay: Mapping[str, str]) -> None:
        """Take (again) what the text of ``f`` names."""
        self.texts.pop(f, None)
        self._words.pop(f, None)
        self._repeats.pop(f, None)
        try:
            text = _read(f, overlay)
        except fileread.ReadError:
            self.texts[f] = None
            return
        if any(m in text for m in _INHERITS):
            if not f.endswith(".py"):
                self.texts[f] = text
                return
            # A name split over adjacent string literals ('./a_' 'b.py') is read joined too.
            joined = _ADJACENT.sub(b"", text)
            self.texts[f] = text + b"\n" + joined
            if joined == text:
                self._repeats[f] = len(text)

    def may_name(self, path: str, stems: set[bytes]) -> bool:
        """Whether ``path`` may name a file whose name (without suffix) is one of ``stems``: one of
        them is written as a path's last part (``x.py``, ``x.yaml``...) or a module imported from
        (``.x import``)."""
        if path not in self.texts:
            return False
        text = self.texts[path]
        if text is None:
            return True
        words = self._words.get(path)
        if words is None and len(stems) <= _FEW_STEMS:
            # The text searched for each name (a search as fast as a set lookup for a few names).
            hits = [n for n in stems if n in text]
        else:
            # A whole word of the text (a set lookup), or a name with a dot (`gamma1.5`) anywhere.
            if words is None:
                words = self._words[path] = self._words_of(path, text)
            hits = [n for n in stems if (n in words if _is_word(n) else n in text)]
        return any(_mention(n).search(text) for n in hits)

    def _words_of(self, path: str, text: bytes) -> set[bytes]:
        """The words (``_WORD``) of a kept text; no word goes over the line break between a text
        and its repetition, so those of a repeated text are those of its first part."""
        repeats = self._repeats.get(path)
        return set((text if repeats is None else text[:repeats]).translate(_SPACE_OUT).split())


def _in_base_folder(path: str) -> bool:
    return "_base_" in os.path.normpath(path).split(os.sep)


def _read(path: str, overlay: Mapping[str, str]) -> bytes:
    """The first bytes of ``path``'s text: its overlaid text (by real path) if it has one."""
    if overlay:
        text = overlay.get(os.path.realpath(path))
        if text is not None:
            return text.encode("utf-8")[:_SNIFF_BYTES]
    return fileread.read_bytes(path, _SNIFF_BYTES)


def _may_inherit(path: str, overlay: Mapping[str, str]) -> bool:
    """Whether the file can inherit at all: a config that does names ``_base_`` or ``read_base``,
    and a Python one assigns ``_base_`` or opens ``with read_base():`` at its top level (as
    mmengine looks for them), so Python modules that merely mention them are passed over. What
    cannot be told from the text is left to the resolver, which says what is wrong with it."""
    try:
        data = _read(path, overlay)
    except fileread.ReadError:
        return True
    if not any(m in data for m in _INHERITS):
        return False
    if not path.endswith(".py"):
        return True
    try:
        module = pysource.parse_quietly(data.decode("utf-8"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True  # a broken config is worth a note
    return any(pyast.is_base_assignment(stmt) or pyast.opens_read_base(stmt) for stmt in module.body)


def _reason(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__

"""The configs of the workspace that inherit a base, and where each writes over a key the base
sets: what references and hover in a base show.

The configs that inherit a base are found once by the search ``lint --dependents`` runs
(:func:`losstune.edit.inheritors.find_inheritors`, reading the open buffers in place of the files
on disk), and each one's writes over the base are kept; what the search read of a workspace
folder (its files and what each one's text names) is kept for the next base's search, which reads
again only the files changed since (a file the walk did not see walks the folder again). A change to a file is taken at the next
question: one whose ``_base_`` chain is the same as before drops only the kept writes of the
configs that read it (an edit of the base itself drops nothing: what inherits it, and what those
write, is in their own texts); one whose chain changed, or a file created or deleted, drops the
search of every base it may bear on, made again when next asked."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping

from msgspec import Struct, field

from losstune.edit.inheritors import KeptTree, find_inheritors, project_root
from losstune.keypath import Path, get, walk_dicts
from losstune.loader.resolve import SUPPORTED_SUFFIXES, Resolver
from losstune.loader.values import LDict
from losstune.model import Origin, Span

SEARCH_SECONDS = 10.0
"""How long the search for a base's inheritors may take before it answers with what it found."""

MAX_FAMILIES = 8
"""How many bases' inheritors are kept (the least recently asked for go first)."""


class Override(Struct, frozen=True):
    """A place that writes, over a base, a key the base sets: the value's span, the key, and the
    configs of the workspace whose value it is (in the search's order)."""

    span: Span
    key: str
    configs: tuple[str, ...]


class _Family(Struct):
    """A base's inheritors, the paths the base writes, and each inheritor's writes at them over
    the base (filled in as asked for)."""

    base: str
    members: list[str]
    notes: list[str]
    paths: frozenset[Path]
    writes: dict[str, list[tuple[Path, Origin]]] = field(default_factory=dict)


def written_paths(tree: LDict, file: str) -> frozenset[Path]:
    """The key paths whose value ``file`` itself writes in ``tree`` (``file`` resolved)."""
    out: set[Path] = set()
    for path, node in [((), tree), *walk_dicts(tree)]:
        if isinstance(node, LDict):
            out.update((*path, k) for k, o in node.origins.items() if o.span.file == file)
    return frozenset(out)


class Families:
    """The inheritors of the bases asked about, kept between questions.

    ``roots`` gives the folders of the workspace (the client's workspace folders); a base is
    searched for under the deepest one that holds it, else in its project as ``lint --dependents``
    finds it."""

    def __init__(self, roots: Callable[[], list[str]], seconds: float = SEARCH_SECONDS) -> None:
        self.roots = roots
        self.seconds = seconds
        self._families: OrderedDict[str, _Family] = OrderedDict()
        self._reads: dict[str, frozenset[str]] = {}
        self._dirty: set[str] = set()
        self._trees: dict[str, KeptTree] = {}
        self._walked: dict[str, frozenset[str]] = {}
        self.searches = 0
        """How many searches have run (each one walks the workspace)."""

    def changed(self, path: str) -> None:
        """Note that the text of ``path`` changed (an edit, a save, a change on disk)."""
        path = os.path.abspath(path)
        self._dirty.add(path)
        for root, kept in list(self._trees.items()):
            if _below(path, root) and path not in self._walked.get(root, ()):
                del self._trees[root]  # a file the walk did not see (new): walk again
            else:
                kept.stale.add(path)

    def reset(self) -> None:
        """Forget every search (a file was created or deleted, the workspace folders changed)."""
        self._families.clear()
        self._reads.clear()
        self._dirty.clear()
        self._trees.clear()

    def root_of(self, base: str) -> str:
        """The folder searched for the configs that inherit ``base``."""
        holding = [r for r in map(os.path.abspath, self.roots()) if _below(base, r)]
        return max(holding, key=len) if holding else project_root(base, [base])

    def overrides(self, base: str, path: Path, overlay: Mapping[str, str]) -> tuple[list[Override], list[str]]:
        """The places that write ``path`` over ``base`` in the configs of the workspace that
        inherit it, in the search's order (each once, with the configs whose value it is), and
        what the search could not reach."""
        base = os.path.abspath(base)
        resolver = Resolver(overlay=dict(overlay))
        self._refresh(resolver)
        family, resolver = self._family(base, resolver)
        if path not in family.paths:
            # A key the base did not write when its inheritors' writes were kept: take them again.
            family.paths = self._paths(base, resolver)
            family.writes.clear()
        found: dict[Span, tuple[str, list[str]]] = {}
        for member in family.members:
            writes = family.writes.get(member)
            if writes is None:
                writes = family.writes[member] = self._writes(member, family, resolver)
            for where, origin in writes:
                if where == path:
                    found.setdefault(origin.span, (str(where[-1]), []))[1].append(member)
        out = [Override(span, key, tuple(configs)) for span, (key, configs) in found.items()]
        return out, list(family.notes)

    def _family(self, base: str, resolver: Resolver) -> tuple[_Family, Resolver]:
        """The base's family, searched for now if it is not kept; and the resolver to go on with
        (``resolver``, which keeps what the search resolved, unless the search ran out of time
        and may still be using it)."""
        family = self._families.get(base)
        if family is not None:
            self._families.move_to_end(base)
            return family, resolver
        self.searches += 1
        root = self.root_of(base)
        kept = self._trees.setdefault(root, KeptTree())
        found = find_inheritors(
            base, [base], scan=root, seconds=self.seconds, by_name=True, resolver=resolver, kept=kept
        )
        if found.timed_out:  # the search may still be at work with both
            resolver = Resolver(overlay=resolver.overlay)
            del self._trees[root]
        else:
            self._walked[root] = frozenset(map(os.path.abspath, kept.files or ()))
        members = [os.path.abspath(c) for c in found.configs if os.path.abspath(c) != base]
        family = _Family(base, members, found.incomplete, self._paths(base, resolver))
        self._families[base] = family
        while len(self._families) > MAX_FAMILIES:
            self._families.popitem(last=False)
        return family, resolver

    def _paths(self, base: str, resolver: Resolver) -> frozenset[Path]:
        result = resolver.resolve(base)
        self._reads[base] = frozenset(result.files)
        return written_paths(result.cfg, base) if result.cfg is not None else frozenset()

    def _writes(self, member: str, family: _Family, resolver: Resolver) -> list[tuple[Path, Origin]]:
        """Where ``member`` (or a file between it and the base) writes a path the base writes."""
        result = resolver.resolve(member)
        self._reads[member] = frozenset(result.files)
        if result.cfg is None or family.base not in result.files:
            return []  # it no longer inherits the base
        later = {member} | {f for f in result.files if f != family.base and family.base in self._reads_of(f, resolver)}
        out: list[tuple[Path, Origin]] = []
        for path in family.paths:
            try:
                parent = get(result.cfg, path[:-1])
            except (KeyError, IndexError, TypeError):
                continue
            origin = parent.origins.get(path[-1]) if isinstance(parent, LDict) else None
            if origin is not None and origin.span.file in later:
                out.append((path, origin))
        return out

    def _reads_of(self, path: str, resolver: Resolver) -> frozenset[str]:
        reads = self._reads.get(path)
        if reads is None:
            reads = self._reads[path] = frozenset(resolver.resolve(path).files)
        return reads

    def _refresh(self, resolver: Resolver) -> None:
        """Take the changes noted since the last question."""
        dirty, self._dirty = self._dirty, set()
        for path in dirty:
            before = self._reads.get(path)
            now = frozenset(resolver.resolve(path).files) if path.endswith(SUPPORTED_SUFFIXES) else frozenset()
            self._reads[path] = now
            for base, family in list(self._families.items()):
                readers = [m for m in family.members if m == path or path in self._reads.get(m, ())]
                if _moves(base, path, before, now, bool(readers)):
                    del self._families[base]  # what inherits the base may have changed: search again
                elif path != base:
                    for member in readers:
                        family.writes.pop(member, None)


def _moves(base: str, path: str, before: frozenset[str] | None, now: frozenset[str], read: bool) -> bool:
    """Whether an edit of ``path`` may change what inherits ``base``: ``path``'s chain (the files
    it read ``before``, if known, and ``now``) changed and has ``base`` in it, or is ``base``'s;
    or ``path``, not known to read it, does now (and a config may inherit it through ``path``)."""
    if before is None:
        return base in now and not read
    return now != before and (base in before | now or path == base)


def _below(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), folder]) == folder
    except ValueError:  # another drive
        return False

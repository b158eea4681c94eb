"""Resolve a config file and its ``_base_`` chain exactly as mmengine's ``Config.fromfile``.

The steps follow ``Config._file2dict``: text templates, the list of bases, each base resolved
(recursively, and cached), duplicate keys among bases refused, the child evaluated with
``_base_`` bound to the merged bases, ``{{_base_.x}}`` placeholders replaced, and the child merged
into the bases. Each problem becomes a diagnostic with a position; resolving goes on where it can.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import msgspec.structs
from msgspec import Struct, field

from losstune.loader import codes, fileread, frontend
from losstune.loader.budget import refuse_oversized
from losstune.loader.cfgoptions import COMMAND_LINE, CfgOption, apply_options
from losstune.loader.envmask import EnvMask
from losstune.loader.filecache import PROCESS_CACHE, FileCache
from losstune.loader.frontend import ParsedFile
from losstune.loader.lazyconfig import resolve_lazy
from losstune.loader.lazyref import lazy_to_string
from losstune.loader.limits import MAX_BASE_DEPTH
from losstune.loader.merge import base_copy, merge_into
from losstune.loader.pkgfind import NotFound, PackageFinder
from losstune.loader.pyast import BASE_KEY
from losstune.loader.source import SourceText
from losstune.loader.values import SCALARS, SCALARS_AND_TEXT, LDict, Opaque
from losstune.model import Diagnostic, Origin, Severity, Span

SUPPORTED_SUFFIXES = (".py", ".yaml", ".yml", ".json")
DEPRECATION_KEY = "_deprecation_"
RESERVED_KEYS = ("filename", "text", "pretty_text", "env_variables")


class FileResult(Struct):
    """A resolved file: its merged config (``None`` when it could not be read at all), every
    diagnostic found in it or its bases, and every file the result depends on."""

    path: str
    cfg: LDict | None
    diagnostics: list[Diagnostic]
    files: list[str] = field(default_factory=list)
    sources: dict[str, SourceText] = field(default_factory=dict)
    # For a new-style config: the names it imported (left out of ``to_dict()``).
    imported: frozenset[str] | None = None
    # What the bases resolve to before this file's own keys are merged in (classic configs).
    base: LDict | None = None

    # The diagnostics already taken, kept from one base to the next so that a file with many
    # bases does not hash its whole list again for each (rebuilt when the list was replaced or
    # shortened meanwhile).
    _seen: set[Diagnostic] = field(default_factory=set)
    _seen_list: list[Diagnostic] | None = None
    _seen_upto: int = 0

    def _known_diagnostics(self) -> set[Diagnostic]:
        if self._seen_list is not self.diagnostics or self._seen_upto > len(self.diagnostics):
            self._seen, self._seen_list, self._seen_upto = set(), self.diagnostics, 0
        self._seen.update(self.diagnostics[self._seen_upto :])
        self._seen_upto = len(self.diagnostics)
        return self._seen

    def merge_from(self, sub: FileResult) -> None:
        """Take over the diagnostics, files and sources of a base this file inherits."""
        seen = self._known_diagnostics()
        for d in sub.diagnostics:
            if d not in seen:
                seen.add(d)
                self.diagnostics.append(d)
        self._seen_upto = len(self.diagnostics)
        files = set(self.files)
        self.files.extend(f for f in dict.fromkeys(sub.files) if f not in files)
        self.sources.update(sub.sources)

    @property
    def ok(self) -> bool:
        """No error-level diagnostic."""
        return self.cfg is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


class Resolver:
    """Resolves configs, caching every resolved file so that shared bases are read once.

    Parsed files and resolved bases are also kept in ``files`` (by default
    :data:`~losstune.loader.filecache.PROCESS_CACHE`, shared by every resolver of the process),
    and used again only while the files are unchanged.

    ``env`` replaces ``os.environ`` for ``{{$VAR:default}}`` templates; ``packages`` locates the
    packages that ``pkg::`` bases and new-style imports name (by default on this interpreter's path);
    ``overlay`` gives the text of files (by real path) to use instead of what is on disk; files
    larger than ``max_file_size`` bytes (by default :func:`losstune.loader.fileread.current_limit`) are
    not read.
    """

    def __init__(
        self,
        env: dict[str, str] | None = None,
        packages: PackageFinder | None = None,
        overlay: dict[str, str] | None = None,
        max_file_size: int | None = None,
        files: FileCache | None = None,
        options: Sequence[CfgOption] = (),
    ) -> None:
        self.env = env
        self.options = tuple(options)
        self.packages = packages or PackageFinder()
        self.overlay = {os.path.realpath(p): t for p, t in (overlay or {}).items()}
        self.max_file_size = max_file_size
        self.files = PROCESS_CACHE if files is None else files
        self.cache: dict[tuple[str, bool], FileResult] = {}
        self._stack: list[str] = []
        # Resolved bases are shared across resolvers only where nothing but the files decides
        # them: this interpreter's packages, and no overlay.
        self._shares_results = packages is None and not self.overlay
        self._read_files: dict[str, tuple[ParsedFile, tuple[str | None, ...] | None]] = {}
        self._by_package: set[str] = set()
        self._heights: dict[tuple[str, bool], int] = {}
        self._peak = 0

    @cached_property
    def option_source(self) -> SourceText:
        """The text of the options, one a line: the source of the ``<command line>`` file (made
        when first asked for: a plain load has no options)."""
        return SourceText.plain(
            COMMAND_LINE, "\n".join(o.origin.text for o in sorted(self.options, key=lambda o: o.origin.span.line))
        )

    def resolve(self, path: str | os.PathLike[str]) -> FileResult:
        """Resolve ``path`` (a config file) and everything it inherits."""
        result = self._resolve(os.path.abspath(os.path.expanduser(os.fspath(path))), None, is_base=False)
        # The result may be kept and given to the next caller too: each gets its own lists.
        result = msgspec.structs.replace(
            result, diagnostics=list(result.diagnostics), files=list(result.files), sources=dict(result.sources)
        )
        mask = EnvMask(result.sources.values())
        if mask:  # a message may quote text substituted from the environment (`name 'tok' is not defined`)
            result = msgspec.structs.replace(result, diagnostics=[mask.diagnostic(d) for d in result.diagnostics])
        if result.imported is not None and result.cfg is not None:
            # Config.to_dict() of a new-style config: lazy names as strings, imported names left out.
            cfg = lazy_to_string(copy.deepcopy(result.cfg))
            for k in result.imported:
                cfg.pop(k, None)
            result = FileResult(
                result.path, cfg, result.diagnostics, result.files, result.sources, result.imported, result.base
            )
        if self.options and result.cfg is not None:
            result = self._with_options(result)
        reserved = [k for k in (result.cfg or {}) if k in RESERVED_KEYS]
        if not reserved:
            return result
        extra = []
        for k in reserved:
            origin = result.cfg.origins.get(k) if result.cfg is not None else None
            extra.append(
                codes.diagnostic(
                    codes.RESERVED_KEY,
                    f"`{k}` is reserved by mmengine and cannot be a top-level config key",
                    origin.span if origin else None,
                    fix="rename it",
                )
            )
        return FileResult(
            result.path,
            result.cfg,
            result.diagnostics + extra,
            result.files,
            result.sources,
            result.imported,
            result.base,
        )

    def _with_options(self, result: FileResult) -> FileResult:
        """``result`` with the ``--cfg-options`` merged in, as ``Config.merge_from_dict`` does after
        ``Config.fromfile``; their text is the source of the ``<command line>`` file."""
        assert result.cfg is not None
        cfg = apply_options(result.cfg, self.options)
        sources = {**result.sources, COMMAND_LINE: self.option_source}
        return msgspec.structs.replace(result, cfg=cfg, sources=sources)

    def resolve_base(self, path: str, requested_at: Span | None, *, new_style: bool = False) -> FileResult:
        """Resolve a base config that a file names at ``requested_at`` (``path`` is absolute, or
        relative to the working directory), and everything it inherits. ``new_style`` is for the
        bases a new-style config imports in ``with read_base():``, which are new-style too. The
        result is shared with every other file that inherits the same base: never change it."""
        return self._resolve(os.path.abspath(os.path.expanduser(path)), requested_at, is_base=True, lazy=new_style)

    # ------------------------------------------------------------------------------------------

    def _resolve(self, abspath: str, requested_at: Span | None, is_base: bool, lazy: bool = False) -> FileResult:
        if abspath in self._stack:
            chain = [*self._stack[self._stack.index(abspath) :], abspath]
            return _refused(
                abspath,
                codes.diagnostic(
                    codes.INHERITANCE_CYCLE,
                    f"configs inherit from each other in a loop: {' -> '.join(chain)}",
                    requested_at,
                    fix="remove one of these `_base_` entries",
                    files=tuple(chain),
                ),
            )
        cached = self.cache.get((abspath, lazy))
        if cached is not None:
            self._peak = max(self._peak, len(self._stack) + self._heights.get((abspath, lazy), 1))
            return cached
        kept = self._kept_result(abspath, is_base, lazy)
        if kept is not None:
            return kept
        if len(self._stack) >= MAX_BASE_DEPTH:
            return _refused(
                abspath,
                codes.diagnostic(
                    codes.TOO_EXPENSIVE,
                    f"the `_base_` chain is more than {MAX_BASE_DEPTH} files deep here; losstune reads no deeper",
                    requested_at,
                    fix="inherit from fewer levels of bases (mmengine's recursion fails on such a chain too)",
                ),
            )
        below, peak = len(self._stack), self._peak
        self._stack.append(abspath)
        self._peak = len(self._stack)
        try:
            result = self._resolve_uncached(abspath, requested_at, is_base, lazy)
        finally:
            self._stack.pop()
        height = self._peak - below
        self._peak = max(peak, self._peak)
        if requested_at is not None and any(d.span == requested_at for d in result.diagnostics):
            return result  # its finding is where this file names it: another file gets its own
        self.cache[(abspath, lazy)] = result
        self._heights[(abspath, lazy)] = height
        self._keep_result(abspath, lazy, result, height)
        return result

    def _result_key(self, abspath: str, lazy: bool) -> tuple[object, ...]:
        limit = fileread.current_limit() if self.max_file_size is None else self.max_file_size
        return (abspath, lazy, tuple(sys.path), limit)

    def _kept_result(self, abspath: str, is_base: bool, lazy: bool) -> FileResult | None:
        """A result kept in :attr:`files` that is still what resolving the file here gives."""
        if not self._shares_results or lazy:
            return None
        key = self._result_key(abspath, lazy)
        found = self.files.result(key, top=not is_base, env=self.env)
        if found is None:
            return None
        result, height, made_from = found
        if len(self._stack) + height > MAX_BASE_DEPTH:
            return None  # resolved here, the chain would go too deep
        self._peak = max(self._peak, len(self._stack) + height)
        for path, parsed, values in made_from:
            self._read_files[path] = (parsed, values)
        self.cache[(abspath, lazy)] = result
        self._heights[(abspath, lazy)] = height
        return result

    def _keep_result(self, abspath: str, lazy: bool, result: FileResult, height: int) -> None:
        """Keep a classic result in :attr:`files` if nothing but its files decides it."""
        if not self._shares_results or lazy or result.cfg is None or result.imported is not None:
            return
        if any(d.severity is Severity.ERROR for d in result.diagnostics):
            return  # a missing or broken file may be there next time
        made_from = []
        for path in result.files:
            read = self._read_files.get(path)
            if read is None or path in self._by_package:
                return
            made_from.append((path, read[0], read[1]))
        parsed = self._read_files[abspath][0]
        classic_on_top = parsed.raw is None or not parsed.raw.facts.is_lazy(self.packages)
        self.files.keep_result(self._result_key(abspath, lazy), result, height, made_from, classic_on_top)

    def _read(self, abspath: str, requested_at: Span | None, is_base: bool) -> tuple[str | None, Diagnostic | None]:
        named = (abspath,)  # the file each message below names
        try:
            fileread.check(abspath, self.max_file_size)
        except fileread.ReadError as e:
            return None, _unreadable(e, abspath, requested_at, is_base)
        if not abspath.endswith(SUPPORTED_SUFFIXES):
            return None, codes.diagnostic(
                codes.UNSUPPORTED_TYPE,
                f"`{abspath}` is not a config losstune can read: only .py, .yaml, .yml and .json are supported",
                requested_at or Span(abspath, 1, 1, 1, 1),
                fix="rename or convert the file",
                files=named,
            )
        try:
            text = fileread.read_text(abspath, self.max_file_size)
        except fileread.DecodeError as e:
            line, col = e.position.line, e.position.column
            return None, codes.diagnostic(
                codes.ENCODING_ERROR,
                f"`{abspath}` {e.reason}",
                Span(abspath, line, col, line, col + 1),
                fix=e.fix,
                files=named,
            )
        except fileread.ReadError as e:
            return None, _unreadable(e, abspath, requested_at, is_base)
        if text.startswith("\ufeff"):
            if not abspath.endswith((".yaml", ".yml")):
                # mmengine reads with plain utf-8; ast and json both refuse the mark.
                return None, codes.diagnostic(
                    codes.SYNTAX_ERROR,
                    f"`{abspath}` starts with a byte-order mark, which mmengine cannot parse",
                    Span(abspath, 1, 1, 1, 2),
                    fix="save the file as UTF-8 without a byte-order mark",
                    files=named,
                )
            text = text[1:]
        if not text.strip():
            return None, codes.diagnostic(
                codes.EMPTY_CONFIG,
                f"`{abspath}` is empty",
                Span(abspath, 1, 1, 1, 1),
                fix="write the config, or remove the file (and any `_base_` entry naming it)",
                files=named,
            )
        return text, None

    def _resolve_uncached(self, abspath: str, requested_at: Span | None, is_base: bool, lazy: bool) -> FileResult:
        parsed, problem = self._parsed(abspath, requested_at, is_base)
        if parsed is None:
            assert problem is not None
            return FileResult(abspath, None, [problem])
        result = FileResult(abspath, None, [], files=[abspath])
        front = self._front(parsed, requested_at, is_base, lazy, result)
        if front is not None:
            self._inherit(front, result)
        return result

    def _parsed(
        self, abspath: str, requested_at: Span | None, is_base: bool
    ) -> tuple[ParsedFile | None, Diagnostic | None]:
        """The file parsed (kept in :attr:`files` while unchanged), or why it cannot be read."""
        overlaid = self.overlay.get(os.path.realpath(abspath)) if self.overlay else None
        if overlaid is not None:
            return ParsedFile(abspath, overlaid), None
        limit = fileread.current_limit() if self.max_file_size is None else self.max_file_size
        parsed = self.files.unchanged(abspath, limit)
        if parsed is not None:
            return parsed, None
        stamp = self.files.stamp(abspath)
        text, problem = self._read(abspath, requested_at, is_base)
        if text is None:
            return None, problem
        return self.files.keep(abspath, limit, text, stamp), None

    def _front(
        self, parsed: ParsedFile, requested_at: Span | None, is_base: bool, lazy: bool, result: FileResult
    ) -> frontend.Front | None:
        """The front end of the file's format, or ``None`` where the file is done with: it cannot
        be read (the diagnostics say why), or it is a new-style config, resolved here whole."""
        abspath = parsed.abspath
        diagnostics = result.diagnostics
        if parsed.is_python:
            # mmengine decides between classic and new-style on the file as written, before any
            # template is replaced; a syntax error there stops it too.
            diagnostics.extend(parsed.raw_diagnostics)
            if parsed.raw is None:
                result.sources[abspath] = parsed.plain  # the text a diagnostic's excerpt shows
                return None
            if lazy or (not is_base and parsed.raw.facts.is_lazy(self.packages)):
                result.sources[abspath] = parsed.plain
                self._read_files[abspath] = (parsed, None)
                resolve_lazy(self, result, parsed.plain, parsed.raw.module)
                return None
        templated = parsed.templated(self.env)
        diagnostics.extend(templated.diagnostics)
        if templated.src is None:
            result.sources[abspath] = parsed.plain  # the text a diagnostic's excerpt shows
            return None
        self._read_files[abspath] = (parsed, parsed.env_values(self.env))
        result.sources[abspath] = templated.src
        if parsed.is_python:
            if templated.parsed is None:
                return None
            if templated.parsed.facts.is_lazy(self.packages):
                diagnostics.append(
                    codes.diagnostic(
                        codes.LAZY_CONFIG,
                        f"`{abspath}` is a new-style (pure Python) config, and a classic `_base_` config "
                        "cannot inherit from it (mmengine refuses to mix the two)",
                        requested_at or Span(abspath, 1, 1, 1, 1),
                        fix="inherit new-style configs with `with read_base():` imports, "
                        "or keep the whole chain classic",
                        files=(abspath,),
                    )
                )
                return None
        front, found = parsed.front(templated)
        diagnostics.extend(found)
        return front

    def _inherit(self, front: frontend.Front, result: FileResult) -> None:
        """``_file2dict`` after the file is read: its bases merged, its own tree evaluated over
        them, ``{{_base_.x}}`` placeholders replaced, and the tree merged into the bases."""
        diagnostics = result.diagnostics
        base_cfg = LDict()
        base_cfg.config_dict = True
        for entry, span in front.bases:
            self._add_base(entry, span, result.path, base_cfg, result, copy=front.reads_base)
        cfg = front.tree(base_cfg, diagnostics)
        if DEPRECATION_KEY in cfg:
            origin = cfg.origins.get(DEPRECATION_KEY)
            info = cfg.pop(DEPRECATION_KEY)
            extra = f" Use {info['expected']} instead." if isinstance(info, dict) and "expected" in info else ""
            diagnostics.append(
                codes.diagnostic(
                    codes.DEPRECATED_CONFIG,
                    f"`{front.src.path}` will be deprecated.{extra}",
                    origin.span if origin else None,
                    fix="move to the config it names",
                    files=(front.src.path,),
                )
            )
        base_vars = front.src.base_vars
        if base_vars or front.reads_base or not isinstance(front, frontend.PythonFront) or not _unshare(cfg):
            cfg = _substitute_base_vars(cfg, base_vars, base_cfg, diagnostics, None)
        if base_vars:
            # A placeholder repeated many times stands for as many copies of the base's value.
            refuse_oversized(cfg, diagnostics)
        cfg.pop(BASE_KEY, None)
        result.base = base_cfg
        # Without placeholders the tree is the file's own, every container in it once (a
        # placeholder's value is the base's own), so its dicts become config dicts in place.
        merged = merge_into(cfg, base_cfg, diagnostics, owned=not base_vars)
        for k in [k for k in merged if isinstance(k, str) and k.startswith("__")]:
            del merged[k]
        result.cfg = merged

    def base_path(self, entry: str, child: str) -> str | tuple[str, tuple[str, ...]]:
        """The file the ``_base_`` entry ``entry`` of the config ``child`` names: beside ``child``,
        or for ``pkg::path`` among the package's configs, as mmengine finds them. Where a package's
        config cannot be found, why, with the files that message names."""
        if "::" in entry:
            return _package_config(entry, self.packages)
        return os.path.join(os.path.dirname(child), entry)

    def _add_base(
        self, entry: Any, span: Span | None, child: str, base_cfg: LDict, result: FileResult, copy: bool
    ) -> None:
        if not isinstance(entry, str):
            result.diagnostics.append(
                codes.diagnostic(
                    codes.BAD_BASE,
                    f"a `_base_` entry must be a path string, not {type(entry).__name__}",
                    span,
                    fix="write `_base_ = 'path.py'` or `_base_ = ['a.py', 'b.py']`",
                )
            )
            return
        located = self.base_path(entry, child)
        if isinstance(located, tuple):
            why, named = located
            result.diagnostics.append(
                codes.diagnostic(
                    codes.MISSING_BASE, why, span, fix="install the package, or use a local path", files=named
                )
            )
            return
        path, scope = located, (entry.partition("::")[0] if "::" in entry else None)
        if scope is not None:
            self._by_package.add(child)
        sub = self.resolve_base(path, span)
        result.merge_from(sub)
        if sub.cfg is None:
            return
        duplicates = [k for k in sub.cfg if k in base_cfg]
        if duplicates:
            result.diagnostics.append(
                codes.diagnostic(
                    codes.DUPLICATE_BASE_KEY,
                    f"`{entry}` defines {', '.join(f'`{k}`' for k in duplicates)}, which an earlier base "
                    "already defines; mmengine refuses duplicate keys among bases",
                    span,
                    fix="remove the key from one of the bases, or inherit them in a chain instead",
                )
            )
        # A child that names `_base_` in its code may change the base's values, so it gets its own
        # copy (as mmengine converts each base afresh); merging never changes a base, so other
        # children share the cached result.
        fresh = base_copy(sub.cfg, scope) if copy or scope is not None else sub.cfg
        for k, v in fresh.items():
            base_cfg.set(k, v, fresh.origins.get(k))


def _unreadable(e: fileread.ReadError, abspath: str, requested_at: Span | None, is_base: bool) -> Diagnostic:
    """The diagnostic of a config or base that cannot be read."""
    if e.problem is fileread.Problem.MISSING and is_base:
        return codes.diagnostic(
            codes.MISSING_BASE,
            f"the base config `{abspath}` {e.reason}",
            requested_at,
            fix="correct the path; it is relative to the folder of the file that names it",
            files=(abspath,),
        )
    fix = e.fix
    if e.problem is fileread.Problem.DIRECTORY:
        fix = "name a .py, .yaml, .yml or .json file (`losstune lint` walks directories)"
    return codes.diagnostic(
        codes.UNREADABLE,
        f"`{abspath}` {e.reason}",
        requested_at or Span(abspath, 1, 1, 1, 1),
        fix=fix,
        files=(abspath,),
    )


def _refused(abspath: str, diagnostic: Diagnostic) -> FileResult:
    """The result for a base that is not read at all, with the one diagnostic that says why."""
    return FileResult(abspath, None, [diagnostic])


def _package_config(entry: str, packages: PackageFinder) -> str | tuple[str, tuple[str, ...]]:
    """Locate ``pkg::path`` as mmengine does (``<package folder>/.mim/configs/<path>``), on disk.

    Returns the path, or when it cannot be found why, with the files that message names."""
    package, _, rel = entry.partition("::")
    try:
        folder = packages.installed_path(package)
    except NotFound as e:
        return f"cannot find the package `{package}` named by `{entry}`: {e}", ()
    path = os.path.join(folder, ".mim", "configs", rel)
    if not os.path.exists(path):
        looked = os.path.abspath(path)
        return f"`{rel}` is not among the configs of the package `{package}` (looked for `{looked}`)", (looked,)
    return path


def _substitute_base_vars(
    cfg: Any, names: dict[str, str], base: LDict, diagnostics: list[Diagnostic], origin: Origin | None
) -> Any:
    """``Config._substitute_base_vars``: a value equal to a ``{{_base_.x}}`` placeholder becomes
    the base's value at ``x``.

    mmengine deep-copies every container at every level on the way down, each copy with its own
    memo, so no two keys share a dict afterwards; this rebuilds the tree the same way (a later
    ``_delete_`` pop on one alias must not affect the other)."""
    if isinstance(cfg, dict):
        out = LDict.like(cfg)
        origins = out.origins
        for k, v in cfg.items():
            kind = type(v)
            if kind is str:  # a str subclass goes the long way, to the same end
                out[k] = _lookup_base(names[v], base, diagnostics, origins.get(k, origin)) if v in names else v
            elif kind in SCALARS:
                out[k] = v
            else:
                out[k] = _substitute_base_vars(v, names, base, diagnostics, origins.get(k, origin))
        return out
    if isinstance(cfg, tuple):
        kept = SCALARS if names else SCALARS_AND_TEXT
        return tuple(
            [c if type(c) in kept else _substitute_base_vars(c, names, base, diagnostics, origin) for c in cfg]
        )
    if isinstance(cfg, list):
        kept = SCALARS if names else SCALARS_AND_TEXT
        return [c if type(c) in kept else _substitute_base_vars(c, names, base, diagnostics, origin) for c in cfg]
    if isinstance(cfg, str) and cfg in names:
        return _lookup_base(names[cfg], base, diagnostics, origin)
    if isinstance(cfg, (set, frozenset)):
        return copy.deepcopy(cfg)
    return cfg


def _unshare(cfg: LDict) -> bool:
    """Give each container of ``cfg`` that is reached more than once a copy of its own, in place:
    what :func:`_substitute_base_vars` does with no placeholders, at the cost of the copies only.
    ``False`` when the tree holds a container this does not handle (sets, other dict or list
    types, a tuple holding a mutable value): then only the rebuild gives mmengine's tree."""
    seen = {id(cfg)}
    stack: list[LDict | list[Any]] = [cfg]
    while stack:
        node = stack.pop()
        shared: list[Any] = []
        for k, v in node.items() if isinstance(node, LDict) else enumerate(node):
            kind = type(v)
            if kind in SCALARS_AND_TEXT:
                continue
            if kind is LDict or kind is list:
                if id(v) in seen:
                    shared.append(k)
                else:
                    seen.add(id(v))
                    stack.append(v)
            elif kind is tuple:
                if not _immutable(v):
                    return False
            elif isinstance(v, (dict, list, tuple, set, frozenset)):
                return False
        for k in shared:  # replaced once the walk of the container is done, as it must not change during it
            node[k] = _substitute_base_vars(node[k], {}, LDict(), [], None)
    return True


def _immutable(value: tuple[Any, ...]) -> bool:
    """A tuple of values that are not containers, or tuples of them."""
    for v in value:
        if type(v) is tuple:
            if not _immutable(v):
                return False
        elif isinstance(v, (dict, list, tuple, set, frozenset)):
            return False
    return True


def _lookup_base(dotted: str, base: LDict, diagnostics: list[Diagnostic], origin: Origin | None) -> Any:
    value: Any = base
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
            continue
        diagnostics.append(
            codes.diagnostic(
                codes.EVALUATION_ERROR,
                f"`{{{{_base_.{dotted}}}}}` names `{part}`, which the base configs do not define",
                origin.span if origin else None,
                fix="check the key path against the base configs",
            )
        )
        return Opaque(f"_base_.{dotted} is not defined", f"{{{{_base_.{dotted}}}}}", origin.span if origin else None)
    return value

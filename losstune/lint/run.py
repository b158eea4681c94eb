"""``losstune lint``: every config under the given paths, checked by every enabled rule.

Loader problems (syntax errors, missing bases...) are findings like any other. A finding is
reported where the offending value is written, so a mistake in a base file is reported once, in
the base file, however many configs inherit it. Base files (under a ``_base_`` folder) are checked
through the configs that use them, and on their own where nothing uses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Hashable, Iterable

from msgspec import Struct, field
from msgspec.structs import replace

from losstune.config import LoadedConfig
from losstune.errors import UsageError
from losstune.lint import noqa
from losstune.lint.settings import Settings
from losstune.lint.workers import check_all, workers_for
from losstune.loader import codes, fileread, gcpause
from losstune.loader.resolve import SUPPORTED_SUFFIXES, FileResult, Resolver
from losstune.loader.source import SourceText
from losstune.model import Diagnostic, Severity, Span
from losstune.rules import ALL_RULES, Context
from losstune.rules.unused_noqa import UnusedNoqa
from losstune.schema.custom import CustomSchema, with_custom_imports
from losstune.schema.mmdet_version import detect_version
from losstune.schema.registry import Schema
from losstune.schema.scopes import DEFAULT_SCOPE, project_name

_SKIP_DIRS = frozenset(("__pycache__", "node_modules", "site-packages"))
_PACKAGE_FOLDERS = frozenset(("site-packages", "dist-packages"))
UNUSED_NOQA = UnusedNoqa()


def walks_into(folder: str) -> bool:
    """Whether walking a folder goes into its subfolder named ``folder`` (not hidden ones, nor
    ``__pycache__``, ``node_modules``, ``site-packages``)."""
    return not folder.startswith(".") and folder not in _SKIP_DIRS


# Files that sit among configs but are metadata (MMDetection's model index), not configs
# (and the manifests that `losstune sweep` writes beside its configs).
_NOT_CONFIGS = frozenset(("metafile.yml", "metafile.yaml", "model-index.yml", "model-index.yaml", "manifest.json"))


class LintResult(Struct):
    """The findings of one lint run, the files checked (absolute paths, as every span holds them),
    and the source lines findings point at."""

    diagnostics: list[Diagnostic]
    configs: list[str]
    lines: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Number of error-level findings."""
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        """Number of warning-level findings."""
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)

    def failed(self, strict: bool) -> bool:
        """Whether the run fails: errors, or warnings too with ``strict``."""
        return self.errors > 0 or (strict and self.warnings > 0)


def is_base_file(path: str) -> bool:
    """Whether a file is a base fragment by the projects' conventions: under a ``_base_`` folder,
    or named ``_base_*.py`` beside the configs that inherit it (MMOCR's ``_base_dbnet_*.py``)."""
    parts = os.path.normpath(path).split(os.sep)
    return "_base_" in parts or parts[-1].startswith("_base_")


class Collected(Struct):
    """What walking the given paths found: config files (sorted within each folder), those found
    by walking a folder rather than named, and a warning for each path skipped on the way."""

    files: list[str]
    walked: set[str]
    skipped: list[Diagnostic]


def collect(paths: Iterable[str], max_file_size: int | None = None, buffers: Container[str] = ()) -> Collected:
    """Config files named or found below the given paths; a path named that is not on disk is one
    if its real path is in ``buffers`` (the texts an editor holds, not saved yet).

    Symbolic links to folders are not followed (so no loop of links is walked forever); a link to
    a file is read as the file. A named path is checked whatever it is (a pipe or a device is then
    a finding); one met while walking is skipped with a warning unless it is a regular file of at
    most ``max_file_size`` bytes (by default :func:`losstune.loader.fileread.current_limit`), and so is a
    folder that cannot be read."""
    out: list[str] = []
    named: set[str] = set()
    walked: set[str] = set()
    skipped: list[Diagnostic] = []
    for p in paths:
        if os.path.isdir(p):
            below: list[str] = []
            _walk(p, max_file_size, below, skipped)
            out.extend(below)
            walked.update(below)
        elif os.path.lexists(p) or os.path.realpath(p) in buffers:
            out.append(p)
            named.add(p)
        else:
            raise UsageError(f"`{p}` does not exist")
    return Collected(list(dict.fromkeys(out)), walked - named, skipped)


def _walk(top: str, max_file_size: int | None, found: list[str], skipped: list[Diagnostic]) -> None:
    """Append the configs below ``top`` to ``found``, depth first, each folder's files before its
    subfolders, in name order."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            reason = f"is a folder that cannot be read ({e.strerror or e}); the configs in it are not checked"
            skipped.append(_skip(folder, reason))
            continue
        subfolders = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                if walks_into(name):
                    subfolders.append(entry.path)
                continue
            if not name.endswith(SUPPORTED_SUFFIXES) or name in _NOT_CONFIGS:
                continue
            try:
                fileread.check(entry.path, max_file_size)
            except fileread.ReadError as e:
                if e.problem is fileread.Problem.DIRECTORY:
                    continue  # a link to a folder: not followed
                if e.problem is not fileread.Problem.DENIED:
                    skipped.append(_skip(entry.path, f"{e.reason}; skipped"))
                    continue
            found.append(entry.path)
        stack.extend(reversed(subfolders))


def _skip(path: str, reason: str) -> Diagnostic:
    file = os.path.abspath(path)
    return codes.diagnostic(
        codes.SKIPPED_PATH,
        f"`{file}` {reason}",
        Span(file, 1, 1, 1, 1),
        files=(file,),
        fix="remove it from the folder, or pass the configs to check by name",
    )


class RunShared:
    """What one lint run works out once for all its configs: the rules its settings enable, and
    the classes the ``custom_imports`` of its configs register (see
    :func:`~losstune.schema.custom.with_custom_imports`), while the files cannot have changed."""

    def __init__(self, settings: Settings) -> None:
        self.rules = tuple(r for r in ALL_RULES if settings.enabled(r.code, r.default_enabled))
        self.custom: dict[Hashable, CustomSchema] = {}
        self.judged: set[str] = set()  # the files read whose text was looked at for a noqa comment


def check_config(
    config: LoadedConfig, schema: Schema, settings: Settings, shared: RunShared | None = None
) -> list[Diagnostic]:
    """The rule findings of one resolved config, with the classes its ``custom_imports`` registers
    in the schema; ``shared`` is what the run checked other configs with (``settings`` and
    ``schema`` the same)."""
    shared = shared or RunShared(settings)
    ctx = rule_context(config, schema, settings, shared.custom)
    out: list[Diagnostic] = []
    for rule in shared.rules:
        out.extend(_in_config(ctx.mask.diagnostic(_naming_registry(ctx, d)), config.path) for d in rule.check(ctx))
    return out


def _in_config(d: Diagnostic, path: str) -> Diagnostic:
    """A finding whose fix names the config its key paths belong to."""
    return d if d.edit is None else replace(d, edit=replace(d.edit, config=path))


def rule_context(
    config: LoadedConfig, schema: Schema, settings: Settings, kept: dict[Hashable, CustomSchema] | None = None
) -> Context:
    """What the rules see of one resolved config: its losses and samplers with the schema entry each
    is checked against (with the classes its ``custom_imports`` registers; ``kept``: those found
    for the run's other configs), and its version."""
    version = settings.mmdet_version or detect_version(config.tree)
    custom = with_custom_imports(schema, config.tree, config.path, kept)
    return Context(config, custom.schema, version, custom)


def _naming_registry(ctx: Context, d: Diagnostic) -> Diagnostic:
    """A finding about a loss or sampler of another project's registry says which registry it was
    checked against (MMDetection's, the default, goes without saying)."""
    if d.key is None:
        return d
    node = ctx.node_at(d.key)
    if node is None or node.entry is None or node.entry.registry == DEFAULT_SCOPE:
        return d
    owner = project_name(node.entry.registry)
    if owner in d.message:
        return d
    return replace(d, message=f"{d.message} (checked against {owner}'s `{node.entry.name}`)")


def lint(
    paths: Iterable[str], schema: Schema, settings: Settings, resolver: Resolver | None = None, jobs: int = 1
) -> LintResult:
    """Lint every config under ``paths``.

    Each file is checked on its own: one that cannot be read, parsed or evaluated is a finding on
    that file, and every other file is still checked. ``jobs`` processes check the configs (0: one
    per CPU; see :mod:`losstune.lint.workers`), with the same findings as one."""
    with fileread.limit(settings.max_file_size):
        return _lint(paths, schema, settings, resolver or Resolver(), jobs)


class _Checked(Struct):
    """What checking one file gave: whether it was checked as a config (not a data file found in a
    config folder), the files it read, its findings, and of the files it read, those whose text
    has no ``noqa`` (each said once by the process that checks it)."""

    path: str
    checked: bool
    read: tuple[str, ...] = ()
    found: list[Diagnostic] = field(default_factory=list)
    without_noqa: tuple[str, ...] = ()


def _check_file(
    path: str, walked: set[str], schema: Schema, settings: Settings, resolver: Resolver, shared: RunShared
) -> _Checked:
    # What the run holds already (the files read, the configs checked before) is left out of the
    # cycle collector's passes while this file is resolved and checked: the rules make many small
    # objects, and a pass they start would otherwise walk all of it again (7% of a lint's time).
    with gcpause.frozen():
        return _checked(path, walked, schema, settings, resolver, shared)


def _checked(
    path: str, walked: set[str], schema: Schema, settings: Settings, resolver: Resolver, shared: RunShared
) -> _Checked:
    read: tuple[str, ...] = ()
    try:
        result = resolver.resolve(path)
        if path in walked and any(d.code == codes.NOT_A_CONFIG.code for d in result.diagnostics):
            return _Checked(path, False)  # a data file found in a config folder, not a config
        read = tuple(result.files)
        found = list(result.diagnostics)
        if result.cfg is not None:
            found.extend(check_config(LoadedConfig(result), schema, settings, shared))
        return _Checked(path, True, read, found, _without_noqa(result, shared.judged))
    except Exception as e:
        if os.environ.get("LOSSTUNE_DEBUG"):
            raise
        return _Checked(path, True, read, [check_failed(path, e)])


def _without_noqa(result: FileResult, judged: set[str]) -> tuple[str, ...]:
    """The files ``result`` read, not ``judged`` yet, whose text (as the resolver read it) has no
    ``noqa``: the report need not read them again to look for comments (see
    :meth:`SourceLines.commented`). Each file is judged once, and added to ``judged``."""
    out = []
    for file in result.files:
        if file in judged:
            continue
        src = result.sources.get(file)
        if src is not None:
            judged.add(file)
            if "noqa" not in src.original.lower():
                out.append(file)
    return tuple(out)


def _lint(paths: Iterable[str], schema: Schema, settings: Settings, resolver: Resolver, jobs: int) -> LintResult:
    collected = collect(paths, buffers=resolver.overlay)
    files, walked = collected.files, collected.walked
    found: list[Diagnostic] = list(collected.skipped)
    used: set[str] = set()
    without_noqa: set[str] = set()
    configs = [f for f in files if not is_base_file(f)]
    bases = [f for f in files if is_base_file(f)]
    checked: list[str] = []
    shared = RunShared(settings)

    def check(path: str) -> _Checked:
        return _check_file(path, walked, schema, settings, resolver, shared)

    def take(outcome: _Checked) -> None:
        if outcome.checked:
            checked.append(outcome.path)
        used.update(outcome.read)
        without_noqa.update(outcome.without_noqa)
        found.extend(outcome.found)

    workers = workers_for(jobs, len(configs))
    together = _custom_import_folders(configs) if workers > 1 else ()
    for outcome in check_all(configs, check, workers, together):
        take(outcome)
    for path in bases:
        if os.path.abspath(path) not in used:
            take(check(path))

    lines = SourceLines(resolver.overlay, {resolver.option_source.path: resolver.option_source}, without_noqa)
    read = [os.path.abspath(p) for p in checked] + sorted(used)
    kept = reported(found, settings, lines, read)
    shown = {(d.span.file, d.span.line): lines.get(d.span.file, d.span.line) for d in kept if d.span is not None}
    return LintResult(kept, [os.path.abspath(c) for c in checked], shown)


def _custom_import_folders(configs: list[str]) -> list[int]:
    """The indices of the configs in folders where a config's text names ``custom_imports``: the
    configs that may read the same modules (a config and the children beside it), to be checked by
    one worker, which reads them once. Only the order of the work depends on it, not a finding."""
    named = set()
    for path in configs:
        try:
            if b"custom_imports" in fileread.read_bytes(path):
                named.add(os.path.dirname(path))
        except fileread.ReadError:
            continue
    return [i for i, path in enumerate(configs) if os.path.dirname(path) in named] if named else []


def reported(found: list[Diagnostic], settings: Settings, lines: SourceLines, files: list[str]) -> list[Diagnostic]:
    """The findings to report, in order: one per rule and position, of the enabled codes, not
    turned off for their file nor silenced by a ``noqa`` comment; and the ``noqa`` comments of
    ``files`` (the files read) that silence nothing (LT100)."""
    kept: list[Diagnostic] = []
    used: dict[str, dict[int, set[str | None]]] = {}
    for d in _one_per_place(found):
        if not settings.enabled(d.code):
            continue
        if d.span is not None:
            if settings.ignored_in(d.code, d.span.file):
                continue
            comment = noqa.directive(lines.get(d.span.file, d.span.line))
            hits = comment.silences(d.code) if comment is not None else []
            if hits is None or hits:
                silenced = used.setdefault(os.path.abspath(d.span.file), {}).setdefault(d.span.line, set())
                silenced.update([None] if hits is None else [c.code for c in hits])
                continue
        kept.append(d)
    if settings.enabled(UNUSED_NOQA.code, UNUSED_NOQA.default_enabled):
        for file in dict.fromkeys(files):
            if not file.endswith((".py", ".yaml", ".yml")):
                continue
            commented = lines.commented(file)  # none in most files: nothing to judge, no path to resolve
            if commented and not installed(file):
                kept += UNUSED_NOQA.check_file(file, commented, used.get(file, {}), _judge(settings, file))
    kept.sort(key=lambda d: d.sort_key())
    return kept


def _one_per_place(found: list[Diagnostic]) -> list[Diagnostic]:
    """One finding per rule and position, however many configs (or keys) reach the value; the fix
    of each finding left out is joined to the one kept where they fix the same config alike (one
    place that makes two keys wrong is fixed by setting both)."""
    first: dict[tuple[str, object], int] = {}
    out: list[Diagnostic] = []
    for d in found:
        place = (d.code, d.span or d.message)
        if place not in first:
            first[place] = len(out)
            out.append(d)
            continue
        kept = out[first[place]]
        if d.edit is not None and kept.edit is not None and d.key != kept.key:
            a, b = kept.edit, d.edit
            if a.config == b.config and a.safety == b.safety and a.is_request and b.is_request:
                joined = replace(
                    a,
                    sets=(*a.sets, *(s for s in b.sets if s[0] not in dict(a.sets))),
                    unsets=tuple(dict.fromkeys((*a.unsets, *b.unsets))),
                    renames=(*a.renames, *(r for r in b.renames if r not in a.renames)),
                )
                out[first[place]] = replace(kept, edit=joined)
    return out


def _judge(settings: Settings, file: str) -> Callable[[str | None], bool]:
    """Whether a run with ``settings`` can tell that a ``noqa`` code silences nothing in ``file``:
    one of losstune's codes (or an ``LT`` code of none) that this run reports there (``None``, a
    comment without codes: every rule on by default does)."""
    known = [(c.code, True) for c in codes.ALL_CODES] + [(r.code, r.default_enabled) for r in ALL_RULES]

    def judged(code: str | None) -> bool:
        if code is None:
            return all(settings.enabled(c, on) and not settings.ignored_in(c, file) for c, on in known if on)
        matching = [(c, on) for c, on in known if c.startswith(code)]
        if not matching:
            return code.startswith("LT")
        return any(settings.enabled(c, on) and not settings.ignored_in(c, file) for c, on in matching)

    return judged


def installed(path: str) -> bool:
    """Whether ``path`` is a file of an installed package (an ``mmdet::`` base), not the user's."""
    return bool(set(os.path.realpath(path).split(os.sep)) & _PACKAGE_FOLDERS)


def check_failed(path: str, error: Exception) -> Diagnostic:
    """The finding on ``path`` when checking it raised ``error``: losstune's own failure, reported
    on the file instead of stopping the run."""
    file = os.path.abspath(path)
    what = f"{type(error).__name__}: {error}"
    if len(what) > 200:
        what = what[:200] + "..."
    return codes.diagnostic(
        codes.CHECK_FAILED,
        f"losstune failed while checking `{file}` ({what}); this is a bug in losstune, not in the config",
        Span(file, 1, 1, 1, 1),
        files=(file,),
        fix="report it (LOSSTUNE_DEBUG=1 shows the traceback); the other files were still checked",
    )


class SourceLines:
    """Lines of files, read once; ``overlay`` gives the text of files (by real path) in place of
    what is on disk, as the resolver's; ``known`` the text of files that are not on disk (the
    ``--cfg-options`` of the command line); ``without_noqa``, files known to have no ``noqa``
    (their text was looked at as it was resolved), which :meth:`commented` then does not read."""

    def __init__(
        self,
        overlay: dict[str, str] | None = None,
        known: dict[str, SourceText] | None = None,
        without_noqa: Iterable[str] = (),
    ) -> None:
        self._files: dict[str, SourceText] = dict(known or {})
        self._overlay = overlay or {}
        self._without_noqa: set[str] = set(without_noqa)

    def get(self, file: str, line: int) -> str:
        """Line ``line`` (1-based) of ``file``; empty where the file cannot be read."""
        return self._source(file).line_text(line)

    def commented(self, file: str) -> list[tuple[int, str]]:
        """The lines of ``file`` that may hold a ``noqa`` comment (the word in any case), each
        with its number, without line breaks."""
        if file in self._without_noqa:
            return []
        src = self._files.get(file)
        if src is None:
            text = self._text(file)
            if isinstance(text, bytes):
                # Most files have no comment: they are neither decoded nor split into lines. No
                # letter outside ASCII lower-cases to one of these four, so bytes tell as text does.
                if b"noqa" not in text.lower():
                    self._without_noqa.add(file)
                    return []
                text = text.decode("utf-8", errors="replace")
            src = self._files[file] = SourceText.plain(file, text)
        lowered = src.original.lower()
        if "noqa" not in lowered:
            return []
        if len(lowered) != len(src.original):  # a letter that lower-cases to two: the lines one by one
            return [(n, line) for n in range(1, src.line_count + 1) if "noqa" in (line := src.line_text(n)).lower()]
        numbers: dict[int, None] = {}
        at = lowered.find("noqa")
        while at >= 0:
            numbers[src.line_col(at)[0]] = None
            at = lowered.find("noqa", at + 4)
        return [(n, src.line_text(n)) for n in numbers]

    def _source(self, file: str) -> SourceText:
        if file not in self._files:
            text = self._text(file)
            if isinstance(text, bytes):
                text = text.decode("utf-8", errors="replace")
            self._files[file] = SourceText.plain(file, text)
        return self._files[file]

    def _text(self, file: str) -> str | bytes:
        """The text the overlay gives ``file``, else its bytes on disk (none where it cannot be read)."""
        if self._overlay:
            text = self._overlay.get(os.path.realpath(file))
            if text is not None:
                return text
        try:
            return fileread.read_bytes(file)
        except fileread.ReadError:
            return b""

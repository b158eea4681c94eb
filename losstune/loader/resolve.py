"""Resolve a config file and its ``_base_`` chain exactly as mmengine's ``Config.fromfile``.

The steps follow ``Config._file2dict``: text templates, the list of bases, each base resolved
(recursively, and cached), duplicate keys among bases refused, the child evaluated with
``_base_`` bound to the merged bases, ``{{_base_.x}}`` placeholders replaced, and the child merged
into the bases. Each problem becomes a diagnostic with a position; resolving goes on where it can.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import io
import os
import tokenize
from dataclasses import dataclass, field
from typing import Any

from losstune.loader import codes, fileread, pyast, pycompile, pysource
from losstune.loader.budget import refuse_oversized
from losstune.loader.envmask import EnvMask
from losstune.loader.jsonread import read_json
from losstune.loader.lazyconfig import resolve_lazy
from losstune.loader.lazyref import lazy_to_string
from losstune.loader.limits import MAX_BASE_DEPTH
from losstune.loader.merge import base_copy, merge_into
from losstune.loader.pkgfind import NotFound, PackageFinder
from losstune.loader.pyast import BASE_KEY
from losstune.loader.pyeval import Interpreter
from losstune.loader.source import SourceText, TemplateError
from losstune.loader.values import Dropped, LDict, Opaque
from losstune.loader.yamlread import read_yaml
from losstune.model import Diagnostic, Origin, Severity, Span

SUPPORTED_SUFFIXES = (".py", ".yaml", ".yml", ".json")
DEPRECATION_KEY = "_deprecation_"
RESERVED_KEYS = ("filename", "text", "pretty_text", "env_variables")


@dataclass
class FileResult:
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

    def merge_from(self, sub: FileResult) -> None:
        """Take over the diagnostics, files and sources of a base this file inherits."""
        seen = set(self.diagnostics)
        for d in sub.diagnostics:
            if d not in seen:
                seen.add(d)
                self.diagnostics.append(d)
        files = set(self.files)
        self.files.extend(f for f in dict.fromkeys(sub.files) if f not in files)
        self.sources.update(sub.sources)

    @property
    def ok(self) -> bool:
        """No error-level diagnostic."""
        return self.cfg is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def display_path(path: str) -> str:
    """The path as shown to the user: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path
    return path if rel.startswith("..") else rel


class Resolver:
    """Resolves configs, caching every resolved file so that shared bases are read once.

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
    ) -> None:
        self.env = env
        self.packages = packages or PackageFinder()
        self.overlay = {os.path.realpath(p): t for p, t in (overlay or {}).items()}
        self.max_file_size = max_file_size
        self.cache: dict[tuple[str, bool], FileResult] = {}
        self._stack: list[str] = []

    def resolve(self, path: str | os.PathLike[str]) -> FileResult:
        """Resolve ``path`` (a config file) and everything it inherits."""
        result = self._resolve(os.path.abspath(os.path.expanduser(os.fspath(path))), None, is_base=False)
        mask = EnvMask(result.sources.values())
        if mask:  # a message may quote text substituted from the environment (`name 'tok' is not defined`)
            result = dataclasses.replace(result, diagnostics=[mask.diagnostic(d) for d in result.diagnostics])
        if result.imported is not None and result.cfg is not None:
            # Config.to_dict() of a new-style config: lazy names as strings, imported names left out.
            cfg = lazy_to_string(copy.deepcopy(result.cfg))
            for k in result.imported:
                cfg.pop(k, None)
            result = FileResult(
                result.path, cfg, result.diagnostics, result.files, result.sources, result.imported, result.base
            )
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

    # ------------------------------------------------------------------------------------------

    def _resolve(self, abspath: str, requested_at: Span | None, is_base: bool, lazy: bool = False) -> FileResult:
        if abspath in self._stack:
            chain = [*self._stack[self._stack.index(abspath) :], abspath]
            names = " -> ".join(display_path(p) for p in chain)
            return _refused(
                abspath,
                codes.diagnostic(
                    codes.INHERITANCE_CYCLE,
                    f"configs inherit from each other in a loop: {names}",
                    requested_at,
                    fix="remove one of these `_base_` entries",
                ),
            )
        cached = self.cache.get((abspath, lazy))
        if cached is not None:
            return cached
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
        self._stack.append(abspath)
        try:
            result = self._resolve_uncached(abspath, requested_at, is_base, lazy)
        finally:
            self._stack.pop()
        self.cache[(abspath, lazy)] = result
        return result

    def _read(self, abspath: str, requested_at: Span | None, is_base: bool) -> tuple[str | None, Diagnostic | None]:
        shown = display_path(abspath)
        try:
            fileread.check(abspath, self.max_file_size)
        except fileread.ReadError as e:
            return None, _unreadable(e, shown, requested_at, is_base)
        if not abspath.endswith(SUPPORTED_SUFFIXES):
            return None, codes.diagnostic(
                codes.UNSUPPORTED_TYPE,
                f"`{shown}` is not a config losstune can read: only .py, .yaml, .yml and .json are supported",
                requested_at or Span(shown, 1, 1, 1, 1),
                fix="rename or convert the file",
            )
        try:
            text = fileread.read_text(abspath, self.max_file_size)
        except fileread.DecodeError as e:
            line, col = e.position.line, e.position.column
            return None, codes.diagnostic(
                codes.ENCODING_ERROR,
                f"`{shown}` {e.reason}",
                Span(shown, line, col, line, col + 1),
                fix=e.fix,
            )
        except fileread.ReadError as e:
            return None, _unreadable(e, shown, requested_at, is_base)
        if text.startswith("\ufeff"):
            if not abspath.endswith((".yaml", ".yml")):
                # mmengine reads with plain utf-8; ast and json both refuse the mark.
                return None, codes.diagnostic(
                    codes.SYNTAX_ERROR,
                    f"`{shown}` starts with a byte-order mark, which mmengine cannot parse",
                    Span(shown, 1, 1, 1, 2),
                    fix="save the file as UTF-8 without a byte-order mark",
                )
            text = text[1:]
        if not text.strip():
            return None, codes.diagnostic(
                codes.EMPTY_CONFIG,
                f"`{shown}` is empty",
                Span(shown, 1, 1, 1, 1),
                fix="write the config, or remove the file (and any `_base_` entry naming it)",
            )
        return text, None

    def _resolve_uncached(self, abspath: str, requested_at: Span | None, is_base: bool, lazy: bool) -> FileResult:
        shown = display_path(abspath)
        overlaid = self.overlay.get(os.path.realpath(abspath)) if self.overlay else None
        text, problem = (overlaid, None) if overlaid is not None else self._read(abspath, requested_at, is_base)
        if text is None:
            assert problem is not None
            return FileResult(abspath, None, [problem])
        diagnostics: list[Diagnostic] = []
        result = FileResult(abspath, None, diagnostics, files=[abspath])
        raw: tuple[ast.Module, pyast.ModuleFacts] | None = None
        if abspath.endswith(".py"):
            # mmengine decides between classic and new-style on the file as written, before any
            # template is replaced; a syntax error there stops it too.
            plain = SourceText.plain(shown, text)
            raw = self._parse_python(plain, diagnostics, report_warnings=True)
            if raw is None:
                result.sources[abspath] = plain  # the text a diagnostic's excerpt shows
                return result
            if lazy or (not is_base and raw[1].is_lazy(self.packages)):
                result.sources[abspath] = plain
                resolve_lazy(self, result, plain, raw[0])
                return result
        try:
            src = SourceText.from_file(abspath, text, self.env)
        except TemplateError as e:
            line, col = SourceText.plain(shown, text).line_col(e.offset)
            diagnostics.append(
                codes.diagnostic(
                    codes.MISSING_ENV,
                    str(e),
                    Span(shown, line, col, line, col + 1),
                    fix="set the variable, or give the template a default: {{$VAR:default}}",
                )
            )
            result.sources[abspath] = SourceText.plain(shown, text)
            return result
        src.path = shown
        result.sources[abspath] = src
        for t in src.env_templates:
            if t.note:
                diagnostics.append(
                    codes.diagnostic(
                        codes.TEMPLATE_AS_WRITTEN,
                        t.note,
                        src.span_original(t.start, t.end),
                        fix="write the default without regular-expression characters, and the value "
                        "without backslashes (`/` in paths)",
                    )
                )

        suffix = os.path.splitext(abspath)[1]
        module: ast.Module | None = None
        uses_base = False
        data: Any = None
        base_entries: list[tuple[Any, Span | None]] = []
        if suffix == ".py":
            parsed = raw if src.text == text else self._parse_python(src, diagnostics)
            if parsed is None:
                return result
            module, facts = parsed
            uses_base = facts.uses_base
            if facts.is_lazy(self.packages):
                diagnostics.append(
                    codes.diagnostic(
                        codes.LAZY_CONFIG,
                        f"`{shown}` is a new-style (pure Python) config, and a classic `_base_` config "
                        "cannot inherit from it (mmengine refuses to mix the two)",
                        requested_at or Span(shown, 1, 1, 1, 1),
                        fix="inherit new-style configs with `with read_base():` imports, or keep the whole chain classic",
                    )
                )
                return result
            base_entries = _python_bases(module, src, diagnostics)
        else:
            data = read_json(src, diagnostics) if suffix == ".json" else read_yaml(src, diagnostics)
            if any(d.severity is Severity.ERROR and d.code == codes.SYNTAX_ERROR.code for d in diagnostics):
                return result
            if not isinstance(data, LDict):
                diagnostics.append(
                    codes.diagnostic(
                        codes.NOT_A_CONFIG,
                        f"`{shown}` must hold a mapping of config keys at its top level, not a {type(data).__name__}",
                        Span(shown, 1, 1, 1, 1),
                        fix="write the config as `key: value` pairs",
                    )
                )
                return result
            base_entries = _data_bases(data, diagnostics)

        base_cfg = LDict()
        base_cfg.config_dict = True
        for entry, span in base_entries:
            self._add_base(entry, span, abspath, base_cfg, result, copy=uses_base)

        if module is not None:
            cfg = Interpreter(src, base_cfg, diagnostics).run(module)
            for k in list(cfg.keys()):
                if isinstance(cfg[k], Dropped) or (isinstance(k, str) and k.startswith("__")):
                    del cfg[k]
        else:
            cfg = data
        if DEPRECATION_KEY in cfg:
            origin = cfg.origins.get(DEPRECATION_KEY)
            info = cfg.pop(DEPRECATION_KEY)
            extra = f" Use {info['expected']} instead." if isinstance(info, dict) and "expected" in info else ""
            diagnostics.append(
                codes.diagnostic(
                    codes.DEPRECATED_CONFIG,
                    f"`{shown}` will be deprecated.{extra}",
                    origin.span if origin else None,
                    fix="move to the config it names",
                )
            )
        cfg = _substitute_base_vars(cfg, src.base_vars, base_cfg, diagnostics, None)
        if src.base_vars:
            # A placeholder repeated many times stands for as many copies of the base's value.
            refuse_oversized(cfg, diagnostics)
        cfg.pop(BASE_KEY, None)
        result.base = base_cfg
        merged = merge_into(cfg, base_cfg, diagnostics)
        for k in [k for k in merged if isinstance(k, str) and k.startswith("__")]:
            del merged[k]
        result.cfg = merged
        return result

    def _parse_python(
        self, src: SourceText, diagnostics: list[Diagnostic], report_warnings: bool = False
    ) -> tuple[ast.Module, pyast.ModuleFacts] | None:
        try:
            module, warned = pysource.parse(src.text, filename=src.path)
            warned += pycompile.check(module, src.text, src.path)
            facts = pyast.examine(module)
            if report_warnings:
                for w in warned:
                    span = src.span_chars(w.line, 0, w.line, 0)
                    diagnostics.append(
                        codes.diagnostic(
                            codes.PARSER_WARNING,
                            f"Python warns: {w.message}",
                            span,
                            fix=_parser_warning_fix(w.message),
                        )
                    )
            return module, facts
        except SyntaxError as e:
            line = e.lineno or 1
            col = max((e.offset or 1) - 1, 0)
            span = src.span_chars(line, col, line, col + 1)
            fix = "fix the syntax at this position"
            if "{{" in src.line_text(span.line):
                fix += "; a `{{...}}` template must sit inside a string literal"
            diagnostics.append(codes.diagnostic(codes.SYNTAX_ERROR, f"Python syntax error: {e.msg}", span, fix=fix))
            return None
        except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
            if isinstance(e, ValueError):
                reason, line = str(e) or "it is not Python source", 1
            else:
                # Python's parser gives up (an empty MemoryError, a RecursionError) on an expression
                # nested or chained too deeply, and so does mmengine's ast.parse.
                reason = f"an expression nests or chains too deeply for Python's parser ({type(e).__name__})"
                line = _most_complex_line(src.text)
            diagnostics.append(
                codes.diagnostic(
                    codes.SYNTAX_ERROR,
                    f"Python cannot parse this file: {reason}",
                    src.span_chars(line, 0, line, 1),
                    fix="check the file is a config and not binary data or generated nesting",
                )
            )
            return None

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
        scope: str | None = None
        if "::" in entry:
            located = _package_config(entry, self.packages)
            if isinstance(located, str) and located.startswith("!"):
                result.diagnostics.append(
                    codes.diagnostic(
                        codes.MISSING_BASE, located[1:], span, fix="install the package, or use a local path"
                    )
                )
                return
            path, scope = located, entry.partition("::")[0]
        else:
            path = os.path.join(os.path.dirname(child), entry)
        sub = self._resolve(os.path.abspath(os.path.expanduser(path)), span, is_base=True)
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


def _unreadable(e: fileread.ReadError, shown: str, requested_at: Span | None, is_base: bool) -> Diagnostic:
    """The diagnostic of a config or base that cannot be read."""
    if e.problem is fileread.Problem.MISSING and is_base:
        return codes.diagnostic(
            codes.MISSING_BASE,
            f"the base config `{shown}` {e.reason}",
            requested_at,
            fix="correct the path; it is relative to the folder of the file that names it",
        )
    fix = e.fix
    if e.problem is fileread.Problem.DIRECTORY:
        fix = "name a .py, .yaml, .yml or .json file (`losstune lint` walks directories)"
    return codes.diagnostic(codes.UNREADABLE, f"`{shown}` {e.reason}", requested_at or Span(shown, 1, 1, 1, 1), fix=fix)


def _refused(abspath: str, diagnostic: Diagnostic) -> FileResult:
    """The result for a base that is not read at all, with the one diagnostic that says why."""
    return FileResult(abspath, None, [diagnostic])


def _parser_warning_fix(message: str) -> str:
    if "escape sequence" in message:
        return "write the backslash twice, or make the string raw (r'...')"
    if "decimal literal" in message:
        return "put a space between the number and the word after it"
    return "write the source as Python expects, so that it no longer warns"


def _most_complex_line(text: str) -> int:
    """The line where the logical line with the most tokens starts: where a parser that gives up
    without a position most probably did (1 when the text cannot be tokenized)."""
    best, best_count, start, count = 1, -1, 1, 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if count == 0:
                start = tok.start[0]
            count += 1
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if count > best_count:
                    best, best_count = start, count
                count = 0
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return best if count <= best_count else start


def _python_bases(module: ast.Module, src: SourceText, diagnostics: list[Diagnostic]) -> list[tuple[Any, Span | None]]:
    """The first top-level ``_base_ = ...`` (mmengine's ``_get_base_files``), with element spans."""
    node = next((s for s in module.body if pyast.is_base_assignment(s)), None)
    if node is None:
        return []
    interp = Interpreter(src, LDict(), diagnostics)
    value = interp.eval_expression(node.value)
    whole = interp.span(node.value)
    if isinstance(value, Opaque):
        return []
    if isinstance(value, list):
        elts = node.value.elts if isinstance(node.value, ast.List) else None
        if elts is not None and len(elts) == len(value) and not any(isinstance(e, ast.Starred) for e in elts):
            return [(v, interp.span(e)) for v, e in zip(value, elts, strict=True)]
        return [(v, whole) for v in value]
    return [(value, whole)]


def _data_bases(data: LDict, diagnostics: list[Diagnostic]) -> list[tuple[Any, Span | None]]:
    if BASE_KEY not in data:
        return []
    value = data[BASE_KEY]
    origin = data.origins.get(BASE_KEY)
    span = origin.span if origin else None
    if isinstance(value, list):
        return [(v, span) for v in value]
    return [(value, span)]


def _package_config(entry: str, packages: PackageFinder) -> str:
    """Locate ``pkg::path`` as mmengine does (``<package folder>/.mim/configs/<path>``), on disk.

    Returns the path, or a message starting with ``!`` when it cannot be found."""
    package, _, rel = entry.partition("::")
    try:
        folder = packages.installed_path(package)
    except NotFound as e:
        return f"!cannot find the package `{package}` named by `{entry}`: {e}"
    path = os.path.join(folder, ".mim", "configs", rel)
    if not os.path.exists(path):
        return f"!`{rel}` is not among the configs of the package `{package}` (looked for `{display_path(path)}`)"
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
        for k, v in cfg.items():
            o = out.origins.get(k, origin)
            if isinstance(v, str) and v in names:
                out[k] = _lookup_base(names[v], base, diagnostics, o)
            else:
                out[k] = _substitute_base_vars(v, names, base, diagnostics, o)
        return out
    if isinstance(cfg, tuple):
        return tuple(_substitute_base_vars(c, names, base, diagnostics, origin) for c in cfg)
    if isinstance(cfg, list):
        return [_substitute_base_vars(c, names, base, diagnostics, origin) for c in cfg]
    if isinstance(cfg, str) and cfg in names:
        return _lookup_base(names[cfg], base, diagnostics, origin)
    if isinstance(cfg, (set, frozenset)):
        return copy.deepcopy(cfg)
    return cfg


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

"""One front end per config format: a file's text in, the bases it names and its own tree out.

A classic Python config names its bases in ``_base_ = ...`` and is evaluated with ``_base_`` bound
to the merged bases; a YAML or JSON config is data whose ``_base_`` key names them. Either way the
resolver gets a :class:`Front`: the bases to inherit, and the file's own keys once the bases are
merged. (New-style Python configs are resolved by :mod:`losstune.loader.lazyconfig`.) Nothing here
reads a file or resolves a base: a front end only reads the text it is given, and can be kept and
asked again for a fresh tree.
"""

from __future__ import annotations

import ast
import io
import os
import tokenize
from collections.abc import Callable, Mapping
from typing import Any

from msgspec import Struct

from losstune.loader import codes, gcpause, pyast, pycompile, pysource
from losstune.loader.pyast import BASE_KEY
from losstune.loader.pycore import node_span
from losstune.loader.pyeval import Interpreter
from losstune.loader.source import SourceText, TemplateError
from losstune.loader.values import Dropped, LDict, Opaque
from losstune.model import Diagnostic, Severity, Span

BaseEntry = tuple[Any, Span | None]


class ParsedPython(Struct, frozen=True):
    """A Python file's syntax tree, what one walk over it found, and what Python's parser warned."""

    module: ast.Module
    facts: pyast.ModuleFacts
    warnings: tuple[Diagnostic, ...]


class Front(Struct, frozen=True):
    """A file as its front end read it: ``src`` (after templates), the ``_base_`` entries (each
    with the span that names it), and whether its code reads ``_base_`` (then it gets its own copy
    of the bases, as mmengine converts each base afresh)."""

    src: SourceText
    bases: tuple[BaseEntry, ...]
    reads_base: bool

    def tree(self, base: LDict, diagnostics: list[Diagnostic]) -> LDict:
        """The file's own keys, new at each call, with ``_base_`` standing for ``base``."""
        raise NotImplementedError


class PythonFront(Front, frozen=True):
    """A classic Python config: evaluated (never executed) with ``_base_`` bound to the bases."""

    module: ast.Module

    def tree(self, base: LDict, diagnostics: list[Diagnostic]) -> LDict:
        with gcpause.frozen():
            cfg = Interpreter(self.src, base, diagnostics).run(self.module)
        for k in list(cfg.keys()):
            if isinstance(cfg[k], Dropped) or (isinstance(k, str) and k.startswith("__")):
                del cfg[k]
        return cfg


class DataFront(Front, frozen=True):
    """A YAML or JSON config: its data as read."""

    data: LDict

    def tree(self, base: LDict, diagnostics: list[Diagnostic]) -> LDict:
        # The resolver changes the top level (it takes `_deprecation_` and `_base_` out) and
        # rebuilds every level below it, so a copy of the top level keeps the data as read.
        return self.data.shallow_copy()


def parse_python(
    src: SourceText, diagnostics: list[Diagnostic], report_warnings: bool = False, written: ast.Module | None = None
) -> ParsedPython | None:
    """``src.text`` parsed as Python (and compiled, never run, for what the compiler refuses), or
    ``None`` with a syntax-error diagnostic. With ``report_warnings``, the parser's warnings
    become diagnostics too. ``written``: the parse of ``src.original``, whose statements on no line
    a template changed are taken as they are (the parser's warnings about those are not given
    again)."""
    try:
        with gcpause.paused():
            edited = src.edited_lines if written is not None else None
            again = None
            if written is not None and edited is not None:
                again = pysource.reparse(written, src.text, src.text_line_starts, edited, src.path)
            module, warned = again or pysource.parse(src.text, filename=src.path)
            facts = pyast.examine(module)
            warned += pycompile.check(module, src.text, src.path, facts.cannot_fail)
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
    warnings = tuple(
        codes.diagnostic(
            codes.PARSER_WARNING,
            f"Python warns: {w.message}",
            src.span_chars(w.line, 0, w.line, 0),
            fix=_parser_warning_fix(w.message),
        )
        for w in (warned if report_warnings else ())
    )
    diagnostics.extend(warnings)
    return ParsedPython(module, facts, warnings)


def python_front(src: SourceText, parsed: ParsedPython, diagnostics: list[Diagnostic]) -> PythonFront:
    """The front of a classic Python config: its first top-level ``_base_ = ...`` (mmengine's
    ``_get_base_files``), with a span for each element."""
    bases = _python_bases(parsed.module, src, diagnostics)
    return PythonFront(src, tuple(bases), parsed.facts.uses_base, parsed.module)


def yaml_front(src: SourceText, diagnostics: list[Diagnostic]) -> DataFront | None:
    """The front of a YAML config, or ``None`` when it cannot be read (the diagnostics say why)."""
    from losstune.loader.yamlread import read_yaml  # the YAML parser, only for YAML configs

    return _data_front(src, read_yaml, diagnostics)


def json_front(src: SourceText, diagnostics: list[Diagnostic]) -> DataFront | None:
    """The front of a JSON config, or ``None`` when it cannot be read (the diagnostics say why)."""
    from losstune.loader.jsonread import read_json  # the JSON reader, only for JSON configs

    return _data_front(src, read_json, diagnostics)


def _data_front(
    src: SourceText, read: Callable[[SourceText, list[Diagnostic]], Any], diagnostics: list[Diagnostic]
) -> DataFront | None:
    before = len(diagnostics)
    data = read(src, diagnostics)
    if any(d.severity is Severity.ERROR and d.code == codes.SYNTAX_ERROR.code for d in diagnostics[before:]):
        return None
    if not isinstance(data, LDict):
        diagnostics.append(
            codes.diagnostic(
                codes.NOT_A_CONFIG,
                f"`{src.path}` must hold a mapping of config keys at its top level, not a {type(data).__name__}",
                Span(src.path, 1, 1, 1, 1),
                files=(src.path,),
                fix="write the config as `key: value` pairs",
            )
        )
        return None
    return DataFront(src, tuple(_data_bases(data)), False, data)


# Characters of path strings, and their count, below which a `_base_` of them is far within every
# limit of evaluating it (steps, values, text).
_PLAIN_BASES = 10_000


def _python_bases(module: ast.Module, src: SourceText, diagnostics: list[Diagnostic]) -> list[BaseEntry]:
    node = next((s for s in module.body if pyast.is_base_assignment(s)), None)
    if node is None:
        return []
    plain = _plain_paths(node.value)
    if plain is not None:
        # What evaluating them gives, without an interpreter: the strings, each at its place.
        ascii_text = src.text.isascii()
        return [(e.value, node_span(src, e, ascii_text)) for e in plain]
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


def _plain_paths(value: ast.expr) -> list[ast.Constant] | None:
    """The string literals of ``_base_ = 'a.py'`` or ``_base_ = ['a.py', ...]`` (a list of string
    literals only, short enough that evaluating it can cross no limit), else ``None``."""
    elts = value.elts if type(value) is ast.List else [value]
    total = len(elts)
    for e in elts:
        if type(e) is not ast.Constant or type(e.value) is not str:
            return None
        total += len(e.value)
    return elts if total <= _PLAIN_BASES else None  # type: ignore[return-value]


def _data_bases(data: LDict) -> list[BaseEntry]:
    if BASE_KEY not in data:
        return []
    value = data[BASE_KEY]
    origin = data.origins.get(BASE_KEY)
    span = origin.span if origin else None
    if isinstance(value, list):
        return [(v, span) for v in value]
    return [(value, span)]


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


class Templated(Struct, frozen=True):
    """A file's text with mmengine's templates replaced for one set of variable values: the
    source (``None`` when a variable has no value), the diagnostics so far, and for Python the
    parse of the replaced text (``None`` when it does not parse)."""

    src: SourceText | None
    diagnostics: tuple[Diagnostic, ...]
    parsed: ParsedPython | None


class ParsedFile:
    """One file's text, and what the front ends make of it, each made once and kept.

    ``raw`` is the Python parse of the text as written (which decides classic or new-style),
    :meth:`templated` the text with its templates replaced for the variables' current values
    (made again when one of the variables the file's templates read changes), :meth:`front` the
    front end of that. Only the text and ``env`` decide what each is, so a kept one is never stale
    for them.
    """

    def __init__(self, abspath: str, text: str) -> None:
        self.abspath, self.text = abspath, text
        self.is_python = abspath.endswith(".py")
        self.plain = SourceText.plain(abspath, text)
        raw_diagnostics: list[Diagnostic] = []
        self.raw = parse_python(self.plain, raw_diagnostics, report_warnings=True) if self.is_python else None
        self.raw_diagnostics = tuple(raw_diagnostics)
        # The variables the templates read (known once the text has been templated), and the
        # latest templated text with the values it was made for.
        self.env_names: tuple[str, ...] | None = None
        self._templated: tuple[tuple[str | None, ...], Templated] | None = None
        self._kept_front: tuple[Templated, Front | None, tuple[Diagnostic, ...]] | None = None

    def env_values(self, env: Mapping[str, str] | None) -> tuple[str | None, ...] | None:
        """The values of the variables the file's templates read (``None`` until known)."""
        if self.env_names is None:
            return None
        values = os.environ if env is None else env
        return tuple(values.get(n) for n in self.env_names)

    def templated(self, env: Mapping[str, str] | None) -> Templated:
        """The text with its templates replaced from ``env`` (``os.environ`` when ``None``)."""
        values = self.env_values(env)
        if self._templated is not None and values is not None and self._templated[0] == values:
            return self._templated[1]
        diagnostics: list[Diagnostic] = []
        src = _template(self.abspath, self.text, env, diagnostics, self.plain.line_starts)
        parsed: ParsedPython | None = None
        if src is not None and self.is_python:
            written = self.raw.module if self.raw is not None else None
            parsed = self.raw if src.text == self.text else parse_python(src, diagnostics, written=written)
        made = Templated(src, tuple(diagnostics), parsed)
        if src is not None:
            self.env_names = tuple(dict.fromkeys(t.name for t in src.env_templates))
            values = self.env_values(env)
            assert values is not None
            self._templated = (values, made)
        return made

    def front(self, templated: Templated) -> tuple[Front | None, tuple[Diagnostic, ...]]:
        """The front end of ``templated`` (one :meth:`templated` gave), and what it found."""
        if self._kept_front is not None and self._kept_front[0] is templated:
            return self._kept_front[1], self._kept_front[2]
        assert templated.src is not None
        diagnostics: list[Diagnostic] = []
        front: Front | None
        if templated.parsed is not None:
            front = python_front(templated.src, templated.parsed, diagnostics)
        elif self.is_python:
            front = None
        elif self.abspath.endswith(".json"):
            front = json_front(templated.src, diagnostics)
        else:
            front = yaml_front(templated.src, diagnostics)
        self._kept_front = (templated, front, tuple(diagnostics))
        return front, self._kept_front[2]


def _template(
    abspath: str, text: str, env: Mapping[str, str] | None, diagnostics: list[Diagnostic], line_starts: list[int]
) -> SourceText | None:
    """The text with mmengine's templates replaced, or ``None`` when a variable has no value
    (``line_starts``: where the lines of ``text`` start)."""
    try:
        src = SourceText.from_file(abspath, text, env, line_starts)
    except TemplateError as e:
        line, col = SourceText.plain(abspath, text).line_col(e.offset)
        diagnostics.append(
            codes.diagnostic(
                codes.MISSING_ENV,
                str(e),
                Span(abspath, line, col, line, col + 1),
                fix="set the variable, or give the template a default: {{$VAR:default}}",
            )
        )
        return None
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
    return src

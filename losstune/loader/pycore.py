"""What every part of the config interpreter shares: the file and its names, the diagnostics,
positions and origins, and the one dispatch of a syntax node to the method that handles it.

:class:`Core` holds the state of one evaluation; the constructs are handled by its subclasses
(:mod:`~losstune.loader.pyexpr` for expressions, :mod:`~losstune.loader.pytargets` for what
an assignment binds, :mod:`~losstune.loader.pycalls`, :mod:`~losstune.loader.pycomprehend`, and
:mod:`~losstune.loader.pyeval` for statements), each method named after the node class it
handles (``_eval_BinOp``, ``_exec_For``), found by :func:`handlers`.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable
from typing import Any, Literal

from losstune.loader import codes
from losstune.loader.budget import Budget, StepsSpent, TooExpensive
from losstune.loader.lazyref import LazyRef
from losstune.loader.pyast import BASE_KEY
from losstune.loader.pybuiltins import BUILTIN_CONSTANTS, BoundMethod, Builtin, ModuleRef
from losstune.loader.pyerrors import (
    PYTHON_ERRORS,
    PyError,
    Unknown,
    Unsupported,
    python_message,
    python_names,
)
from losstune.loader.source import BASE_PLACEHOLDER_PREFIX, SourceText
from losstune.loader.values import Dropped, LDict, Opaque
from losstune.model import Diagnostic, Origin, Span

Prefix = Literal["_eval_", "_exec_"]
"""The names of the methods that handle expressions and statements begin with these."""


Handler = Callable[[Any, Any], Any]
_TABLES: dict[tuple[type, str], dict[type, Handler]] = {}


def handlers(cls: type, prefix: Prefix) -> dict[type, Handler]:
    """The methods of ``cls`` that handle nodes, by the node class each is named after
    (``_eval_BinOp`` for ``ast.BinOp``); found by name once per class."""
    table = _TABLES.get((cls, prefix))
    if table is None:
        table = _TABLES[(cls, prefix)] = {}
        for name in dir(cls):
            node_type = getattr(ast, name[len(prefix) :], None) if name.startswith(prefix) else None
            if isinstance(node_type, type) and issubclass(node_type, ast.AST):
                table[node_type] = getattr(cls, name)
    return table


def node_span(src: SourceText, node: ast.AST, ascii_text: bool) -> Span:
    """Where ``node``, parsed from ``src.text``, is in the file (``ascii_text``: the text is
    ASCII, so that byte columns are character columns)."""
    end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
    end_col = getattr(node, "end_col_offset", None)
    if end_col is None:
        end_col = node.col_offset  # type: ignore[attr-defined]
    if ascii_text:
        return src.span_chars(node.lineno, node.col_offset, end_line, end_col)  # type: ignore[attr-defined]
    return src.span_bytes(node.lineno, node.col_offset, end_line, end_col)  # type: ignore[attr-defined]


class Fail(Exception):
    """Python would raise here; carries the node for the position."""

    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class Core:
    """The state of evaluating one config module. ``base`` is what ``_base_`` names inside it
    (``None`` in a new-style config, where the name is not defined). ``budget`` bounds the
    evaluation (a fresh one with the default limits when not given)."""

    def __init__(
        self, src: SourceText, base: LDict | None, diagnostics: list[Diagnostic], budget: Budget | None
    ) -> None:
        self.src = src
        self.base = base
        self.diagnostics = diagnostics
        self.globals = LDict()
        self.scopes: list[dict[str, Any]] = []
        self.budget = budget or Budget()
        # Whether a statement may have changed a container in place (an item or attribute set or
        # deleted, a method called, an augmented assignment, a block made unknown): only then can
        # the bases have changed under ``_base_``.
        self.changed_in_place = False
        # One diagnostic per code and position: a failing expression inside a loop is reported once.
        self._reported: set[tuple[str, Span | None]] = set()
        self._spans: dict[ast.AST, Span] = {}
        self._names_in: dict[str, tuple[str, ...]] = {}
        self._evaluators = handlers(type(self), "_eval_")
        # Whether a statement may bind names with `:=` (the operator appears in the text).
        self._walrus = ":=" in src.text
        self._ascii = src.text.isascii()
        # The lines where a node's positions are the file's own (byte columns are character
        # columns, and no template changed the line), whose spans are made from them directly:
        # every line but these (`None`: no line).
        self._edited = src.edited_lines if self._ascii else None
        self._path = src.path

    # -- positions and diagnostics ----------------------------------------------------------

    def span(self, node: ast.AST) -> Span:
        """Where ``node`` is in the file (remembered: a node in a loop is met many times)."""
        cached = self._spans.get(node)
        if cached is None:
            edited = self._edited
            if edited is not None:
                line = node.lineno  # type: ignore[attr-defined]
                end_line = node.end_lineno or line  # type: ignore[attr-defined]
                if line in edited or end_line in edited:
                    cached = self._locate(node)
                else:
                    col = node.col_offset  # type: ignore[attr-defined]
                    end_col = node.end_col_offset  # type: ignore[attr-defined]
                    cached = Span(self._path, line, col + 1, end_line, (col if end_col is None else end_col) + 1)
            else:
                cached = self._locate(node)
            self._spans[node] = cached
        return cached

    def _locate(self, node: ast.AST) -> Span:
        return node_span(self.src, node, self._ascii)

    def _report(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.code, diagnostic.span)
        if key not in self._reported:
            self._reported.add(key)
            self.diagnostics.append(diagnostic)

    def _withdraw(self, code: codes.Code, span: Span) -> bool:
        """Take back the diagnostic of ``code`` reported at ``span`` (to report a fuller one);
        whether there was one."""
        key = (code.code, span)
        if key not in self._reported:
            return False
        self._reported.discard(key)
        for i in range(len(self.diagnostics) - 1, -1, -1):
            d = self.diagnostics[i]
            if d.code == code.code and d.span == span:
                del self.diagnostics[i]
                break
        return True

    def _opaque(self, node: ast.AST, reason: str) -> Opaque:
        return self._unknown(
            node,
            codes.OPAQUE_VALUE,
            reason,
            "cannot be evaluated without running code ({reason})",
            "write the value as a literal, or ignore this warning if the value does not matter",
        )

    def _too_expensive(self, node: ast.AST, reason: str) -> Opaque:
        return self._unknown(
            node,
            codes.TOO_EXPENSIVE,
            reason,
            "is too expensive to evaluate statically: {reason}",
            "compute less in the config (real configs stay far below these limits, which the README lists)",
        )

    def _unknown(self, node: ast.AST, code: codes.Code, reason: str, why: str, fix: str) -> Opaque:
        """Report that the value of ``node`` is unknown, ``why`` (with ``{reason}``), and return it."""
        span = self.span(node)
        text = self.src.segment(span)
        message = f"`{clip(text)}` {why.format(reason=reason)}; its value is unknown to losstune"
        self._report(codes.diagnostic(code, message, span, fix=fix))
        return Opaque(reason, text, span)

    def exec_error(self, node: ast.AST, message: str) -> None:
        """Report a Python error (one mmengine would raise too) at ``node``."""
        self._error(node, message)

    def _error(self, node: ast.AST, message: str) -> Opaque:
        span = self.span(node)
        message = python_names(message)
        self._report(
            codes.diagnostic(
                codes.EVALUATION_ERROR,
                f"{message} (mmengine would fail to load this config here)",
                span,
                fix="fix the expression so that it evaluates",
            )
        )
        return Opaque(message, self.src.segment(span), span)

    # -- names and origins ------------------------------------------------------------------

    def lookup(self, node: ast.Name) -> Any:
        name = node.id
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.globals:
            return self.globals[name]
        if name == BASE_KEY and self.base is not None:
            return self.base
        if name in BUILTIN_CONSTANTS:
            return BUILTIN_CONSTANTS[name]
        if name in BUILTIN_NAMES:
            return Builtin(name)
        raise Fail(node, f"NameError: name '{name}' is not defined")

    def _bind_name(self, name: str, value: Any, origin: Origin | None) -> None:
        if self.scopes:
            self.scopes[-1][name] = value
        else:
            self.globals.set(name, value, origin)

    def origin(self, node: ast.AST) -> Origin:
        span = self.span(node)
        kind = type(node)  # the parser makes no subclasses of its node classes
        if kind is ast.Constant:
            value = node.value  # type: ignore[attr-defined]
            if isinstance(value, str) and value.startswith(BASE_PLACEHOLDER_PREFIX):
                return Origin(span, "base-reference", self.src.segment(span))
            return Origin(span, "literal")
        if kind is ast.Dict or kind is ast.List or kind is ast.Tuple or kind is ast.Set:
            return Origin(span, "literal")
        if kind is ast.Name:
            via = None
            name = node.id  # type: ignore[attr-defined]
            for scope in reversed(self.scopes):
                if name in scope:
                    break
            else:
                via = self.globals.origins.get(name)
            return Origin(span, "variable", name, via)
        root: ast.AST = node
        if kind is ast.Call:
            func = node.func  # type: ignore[attr-defined]
            if type(func) is ast.Name:
                if func.id == "dict":
                    return Origin(span, "literal")
                args = node.args  # type: ignore[attr-defined]
                if func.id == "getattr" and args:
                    root = args[0]  # `getattr(_base_, 'x')` reads the bases as `_base_.x` does
        elif kind is ast.UnaryOp:
            op, operand = node.op, node.operand  # type: ignore[attr-defined]
            if type(op) in (ast.USub, ast.UAdd) and type(operand) is ast.Constant:
                return Origin(span, "literal")
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name) and root.id == BASE_KEY:
            return Origin(span, "base-reference", self.src.segment(span))
        text = self.src.segment(span)
        return Origin(span, "expression", text, reads=self._reads(text))

    def _reads(self, text: str) -> tuple[tuple[str, Origin | None], ...]:
        """The top-level names the expression ``text`` names (read from its text, not its tree:
        a name only in a string or a keyword may be among them), each with the origin of its
        binding now."""
        names = self._names_in.get(text)
        if names is None:
            names = self._names_in[text] = tuple(dict.fromkeys(_NAME.findall(text)))
        globals_, origins = self.globals, self.globals.origins
        return tuple((n, origins.get(n)) for n in names if n in globals_)

    # -- expressions ------------------------------------------------------------------------

    def eval(self, node: ast.expr) -> Any:
        """The value of ``node``. This is the one place where a Python exception raised by an
        operation becomes a diagnostic at the expression (as :class:`Fail`, reported by the
        statement), and where a construct that cannot be evaluated or crosses a limit becomes an
        opaque value."""
        budget = self.budget
        budget.steps += 1
        if budget.steps > budget.allowed:
            raise StepsSpent()
        kind = type(node)
        if kind is ast.Constant:  # the commonest node: its value, here rather than in a method of its own
            return node.value  # type: ignore[attr-defined]
        method = self._evaluators.get(kind)
        if method is None:
            return self._opaque(node, f"a `{type(node).__name__}` expression")
        try:
            return method(self, node)
        except Unsupported as u:
            return self._opaque(node, str(u))
        except TooExpensive as t:
            return self._too_expensive(node, t.reason)
        except Unknown as u:
            return u.value
        except PyError as e:
            raise Fail(node, str(e)) from None
        except PYTHON_ERRORS as e:
            raise Fail(node, python_message(e)) from None


# Every name Python's builtins module defines: a value a config may name (and pass around) but
# only call when it is one of BUILTIN_FUNCTIONS. `exit` and `quit` come from the site module.
BUILTIN_NAMES = frozenset(name for name in vars(builtins) if not name.startswith("__") or name == "__import__") | {
    "exit",
    "quit",
    "copyright",
    "credits",
    "license",
    "help",
}

# A name as an expression reads it: not an attribute (`.x`), not a keyword argument (`x=`).
_NAME = re.compile(r"(?<![.\w])([^\W\d]\w*)(?!\s*=[^=])")

CODE = (Builtin, BoundMethod, ModuleRef, LazyRef, Dropped)


PLAIN = (dict, list, tuple, str, int, float, bool, complex, type(None), set, frozenset, bytes)


def type_name(value: Any) -> str:
    if isinstance(value, LDict):
        return "ConfigDict" if value.config_dict else "dict"
    if isinstance(value, Builtin):
        return f"built-in `{value.name}`"
    if isinstance(value, BoundMethod):
        return f"method `{value.name}`"
    return type(value).__name__


def clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"

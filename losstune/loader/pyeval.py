"""A safe interpreter for the data subset of Python that configs are written in.

Nothing is executed: the module's ``ast`` is walked and each statement is applied to a table
of names, the way ``exec`` would, for the constructs real configs use (literals, ``dict(...)``,
arithmetic, comprehensions, dict methods, subscript and attribute assignment on ``_base_``
values...). Anything outside that subset becomes an :class:`~losstune.loader.values.Opaque` value with a
warning at its position; a Python error (``KeyError``, ``NameError``...) that mmengine would raise
too becomes an error diagnostic (:meth:`Interpreter.eval` is the one place where an exception
raised by an operation becomes one). Evaluation is bounded by a :class:`~losstune.loader.budget.Budget`
of steps and sizes: crossing it is a diagnostic at the expression, whose value becomes opaque.
Either way the rest of the file is still evaluated.
"""

from __future__ import annotations

import ast
import builtins
import operator
from collections.abc import Callable
from typing import Any

from losstune.loader import codes
from losstune.loader.budget import Budget, StepsSpent, TooExpensive, refuse_oversized
from losstune.loader.lazyref import LazyRef
from losstune.loader.pyast import BASE_KEY
from losstune.loader.pyast import is_base_assignment as _is_base_assign
from losstune.loader.pybuiltins import (
    BUILTIN_CONSTANTS,
    BUILTIN_FUNCTIONS,
    BUILTIN_TYPES,
    PURE_MODULE_FUNCTIONS,
    BoundMethod,
    Builtin,
    ModuleRef,
    binary,
    call_builtin,
    call_method,
    call_module_function,
    compare,
    expandable,
    goes_through,
    is_in,
    is_not_in,
    length,
    method_of,
    number_attribute,
    python_type,
)
from losstune.loader.pyerrors import (
    PYTHON_ERRORS,
    PyError,
    Unknown,
    Unsupported,
    exception_type,
    python_message,
    python_names,
)
from losstune.loader.pyformat import convert, exception_line, format_value
from losstune.loader.source import BASE_PLACEHOLDER_PREFIX, SourceText
from losstune.loader.values import Dropped, LDict, Opaque, hook
from losstune.model import Diagnostic, Origin, Span

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_IBINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.iadd,
    ast.Sub: operator.isub,
    ast.Mult: operator.imul,
    ast.Div: operator.itruediv,
    ast.FloorDiv: operator.ifloordiv,
    ast.Mod: operator.imod,
    ast.Pow: operator.ipow,
    ast.MatMult: operator.imatmul,
    ast.BitOr: operator.ior,
    ast.BitAnd: operator.iand,
    ast.BitXor: operator.ixor,
    ast.LShift: operator.ilshift,
    ast.RShift: operator.irshift,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: is_in,
    ast.NotIn: is_not_in,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}


class _Fail(Exception):
    """Python would raise here; carries the node for the position."""

    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Loop(Exception):
    def __init__(self, kind: str) -> None:
        self.kind = kind


class Interpreter:
    """Evaluate one config module. ``base`` is what ``_base_`` names inside it (``None`` in a
    new-style config, where the name is not defined). ``budget`` bounds the evaluation (a fresh
    one with the default limits when not given)."""

    def __init__(
        self,
        src: SourceText,
        base: LDict | None,
        diagnostics: list[Diagnostic],
        import_handler: Callable[[Interpreter, ast.stmt], bool] | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.src = src
        self.base = base
        self.diagnostics = diagnostics
        self.globals = LDict()
        self.scopes: list[dict[str, Any]] = []
        # New-style configs bind their imports differently (see lazyconfig.py).
        self.import_handler = import_handler
        self.budget = budget or Budget()
        # One diagnostic per code and position: a failing expression inside a loop is reported once.
        self._reported: set[tuple[str, Span | None]] = set()
        self._spans: dict[ast.AST, Span] = {}
        # Whether a statement may bind names with `:=` (the operator appears in the text).
        self._walrus = ":=" in src.text
        self._ascii = src.text.isascii()

    # -- diagnostics ------------------------------------------------------------------------

    def span(self, node: ast.AST) -> Span:
        """Where ``node`` is in the file (remembered: a node in a loop is met many times)."""
        cached = self._spans.get(node)
        if cached is None:
            cached = self._spans[node] = self._locate(node)
        return cached

    def _locate(self, node: ast.AST) -> Span:
        end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end_col = getattr(node, "end_col_offset", None)
        if end_col is None:
            end_col = node.col_offset  # type: ignore[attr-defined]
        if self._ascii:  # byte columns are character columns
            span = self.src.span_chars(node.lineno, node.col_offset, end_line, end_col)  # type: ignore[attr-defined]
        else:
            span = self.src.span_bytes(node.lineno, node.col_offset, end_line, end_col)  # type: ignore[attr-defined]
        return span

    def _report(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.code, diagnostic.span)
        if key not in self._reported:
            self._reported.add(key)
            self.diagnostics.append(diagnostic)

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
        message = f"`{_clip(text)}` {why.format(reason=reason)}; its value is unknown to losstune"
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

    # -- origins ----------------------------------------------------------------------------

    def origin(self, node: ast.AST) -> Origin:
        span = self.span(node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and node.value.startswith(BASE_PLACEHOLDER_PREFIX):
                return Origin(span, "base-reference", self.src.segment(span))
            return Origin(span, "literal")
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
        ):
            return Origin(span, "literal")
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set)):
            return Origin(span, "literal")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            return Origin(span, "literal")
        if isinstance(node, ast.Name):
            via = None
            for scope in reversed(self.scopes):
                if node.id in scope:
                    break
            else:
                via = self.globals.origins.get(node.id)
            return Origin(span, "variable", node.id, via)
        root: ast.AST = node
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name) and root.id == BASE_KEY:
            return Origin(span, "base-reference", self.src.segment(span))
        return Origin(span, "expression", self.src.segment(span))

    # -- statements -------------------------------------------------------------------------

    def run(self, module: ast.Module | list[ast.stmt]) -> LDict:
        """Execute the module body and return its global names (mmengine's ``cfg_dict``). The
        module is one Python's compiler accepts (:func:`~losstune.loader.pycompile.check`).

        A statement that spends the file's steps stops as a whole (the names it assigns become
        opaque); the statements after it share a tenth of the steps more. Names whose values are
        beyond the limits of a resolved config (or contain themselves) become opaque at the end."""
        body = module.body if isinstance(module, ast.Module) else module
        for i, stmt in enumerate(body):
            try:
                self.exec_stmt(stmt)
            except StepsSpent:
                if self._steps_spent(stmt):
                    self._not_evaluated(body[i + 1 :])
                    break
        refuse_oversized(self.globals, self.diagnostics, self.budget.limits)
        return self.globals

    def _steps_spent(self, stmt: ast.stmt) -> bool:
        """Report that ``stmt`` spent the steps and make what it assigns opaque; ``True`` when no
        steps are left for the statements after it."""
        limit = self.budget.limits.steps
        final = not self.budget.extend_once()
        if final:
            self._too_expensive(stmt, "the steps left to the rest of the file are spent; nothing after it is evaluated")
        else:
            self._too_expensive(
                stmt,
                f"the file takes more than {limit:,} evaluation steps, the most losstune takes for one file "
                f"(the statements after this one get {limit // 10:,} more)",
            )
        self._not_evaluated([stmt])
        return final

    def _not_evaluated(self, stmts: list[ast.stmt]) -> None:
        """Make the names the statements would assign opaque, without evaluating them."""
        walrus = self._walrus
        out = self.globals
        for stmt in stmts:
            if type(stmt) is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name and not walrus:
                names = [stmt.targets[0].id]  # `x = ...`, nearly every statement of a config
            else:
                names = _affected_names(stmt, walrus)
            if names:
                span = self._locate(stmt)  # never met again
                for name in names:
                    out.set(name, Opaque(_NOT_EVALUATED, name, span), None)

    def exec_block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.exec_stmt(stmt)

    def exec_stmt(self, stmt: ast.stmt) -> None:
        budget = self.budget
        budget.steps += 1
        if budget.steps > budget.allowed:
            raise StepsSpent()
        message: str | None = None
        node: ast.AST = stmt
        unknown: Opaque | None = None
        try:
            self._exec(stmt)
        except _Fail as f:
            message, node = f.message, f.node
        except PyError as e:
            message = str(e)
        except PYTHON_ERRORS as e:
            message = python_message(e)
        except Unsupported as u:
            unknown = self._opaque(stmt, str(u))
        except TooExpensive as t:
            unknown = self._too_expensive(stmt, t.reason)
        except Unknown as u:
            unknown = u.value
        if message is not None:
            unknown = self._error(node, message)
        if unknown is not None:
            # What the statement would have assigned is not known.
            span = self.span(stmt)
            for name in _affected_names(stmt, self._walrus):
                self._bind_name(name, Opaque(unknown.reason, name, span), None)

    def _exec(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            if _is_base_assign(stmt):
                return  # mmengine removes every `_base_ = ...` before running the file
            value = self.eval(stmt.value)
            origin = self.origin(stmt.value)
            for target in stmt.targets:
                self.assign(target, value, origin)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value), self.origin(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                self.delete(target)
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and self.import_handler and self.import_handler(self, stmt):
            pass
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self._bind_name(alias.asname, Dropped(alias.name), None)
                else:
                    top = alias.name.split(".")[0]
                    self._bind_name(top, Dropped(top), None)
                if not _is_known_module(alias.name):
                    self._opaque(stmt, f"imports are not executed, and `{alias.name}` is not a module losstune knows")
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name == "*":
                    self._opaque(stmt, "a star import")
                    continue
                full = f"{stmt.module}.{alias.name}"
                self._bind_name(alias.asname or alias.name, Dropped(full), None)
                if not _is_known_module(full):
                    self._opaque(stmt, f"imports are not executed, and `{full}` is not a function losstune knows")
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._bind_name(stmt.name, Dropped(stmt.name), None)
            header = self.span(stmt)
            end = header.column + len("def ") + len(stmt.name)
            self.diagnostics.append(
                codes.diagnostic(
                    codes.OPAQUE_VALUE,
                    f"functions are not run, so values computed by `{stmt.name}` are unknown to losstune",
                    Span(header.file, header.line, header.column, header.line, end),
                    fix="write the values as literals, or ignore this warning if they do not matter",
                )
            )
        elif isinstance(stmt, ast.ClassDef):
            self._bind_name(stmt.name, self._opaque(stmt, "a class definition"), self.origin(stmt))
        elif isinstance(stmt, ast.If):
            test = self.eval(stmt.test)
            if isinstance(test, Opaque):
                self._opaque(stmt.test, "the condition of an `if`")
                return
            self.exec_block(stmt.body if test else stmt.orelse)
        elif isinstance(stmt, ast.For):
            self.exec_for(stmt)
        elif isinstance(stmt, ast.Break):
            raise _Loop("break")
        elif isinstance(stmt, ast.Continue):
            raise _Loop("continue")
        elif isinstance(stmt, ast.Raise):
            raise PyError(self._raised(stmt))
        elif isinstance(stmt, ast.Assert):
            test = self.eval(stmt.test)
            if not isinstance(test, Opaque) and not test:
                raise _Fail(stmt, "AssertionError")
        else:
            self._opaque(stmt, f"a `{type(stmt).__name__.lower()}` statement")
            for name in _assigned_names(stmt):
                self._bind_name(name, Opaque("not evaluated", name, self.span(stmt)), None)

    def _raised(self, stmt: ast.Raise) -> str:
        """The line Python prints for the exception ``stmt`` raises (mmengine stops on any)."""
        if stmt.exc is None:
            return "RuntimeError: No active exception to reraise"
        call = stmt.exc if isinstance(stmt.exc, ast.Call) else None
        raised = self._eval_chain(call.func if call is not None else stmt.exc)
        kind = exception_type(raised.name) if isinstance(raised, Builtin) else None
        if kind is None:
            if isinstance(raised, _PLAIN):
                return "TypeError: exceptions must derive from BaseException"
            return f"`{_clip(self.src.segment(self.span(stmt)))}` raises an exception"
        if call is None:
            return python_message(kind())
        args = self._elements(call.args)
        kwargs = {kw.arg: self.eval(kw.value) for kw in call.keywords if kw.arg is not None}
        if isinstance(args, Opaque) or len(kwargs) < len(call.keywords):
            return f"{kind.__name__} (with a message unknown to losstune)"
        try:
            return exception_line(self.budget, kind, args, kwargs)
        except Unknown:
            return f"{kind.__name__} (with a message unknown to losstune)"

    def exec_for(self, stmt: ast.For) -> None:
        iterable = self.eval(stmt.iter)
        if isinstance(iterable, Opaque):
            self._opaque(stmt.iter, "a loop over an unknown value")
            return
        try:
            items = iter(iterable)
        except TypeError as e:
            raise _Fail(stmt.iter, python_message(e)) from None
        broke = False
        budget = self.budget
        origin = self.origin(stmt.iter)
        # The loop goes through the live value, as Python does: a dict changed while it is looped
        # over fails as in Python, and a list that grows is stopped by the budget.
        for item in items:
            budget.charge(1)
            self.assign(stmt.target, item, origin)
            try:
                self.exec_block(stmt.body)
            except _Loop as loop:
                if loop.kind == "break":
                    broke = True
                    break
        if not broke:
            self.exec_block(stmt.orelse)

    def _bind_name(self, name: str, value: Any, origin: Origin | None) -> None:
        if self.scopes:
            self.scopes[-1][name] = value
        else:
            self.globals.set(name, value, origin)

    def assign(self, target: ast.expr, value: Any, origin: Origin | None) -> None:
        if isinstance(target, ast.Name):
            self._bind_name(target.id, value, origin)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Opaque):
                for elt in target.elts:
                    self.assign(elt, value, origin)
                return
            goes_through(self.budget, value)
            try:
                values = list(value)
            except TypeError:
                raise _Fail(target, f"TypeError: cannot unpack non-iterable {_type_name(value)} object") from None
            starred = [i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)]
            if len(starred) == 1:
                i = starred[0]
                after = len(target.elts) - i - 1
                if len(values) < len(target.elts) - 1:
                    raise _Fail(
                        target,
                        f"ValueError: not enough values to unpack (expected at least {len(target.elts) - 1}, got {len(values)})",
                    )
                rest = values[i : len(values) - after]
                values = [*values[:i], rest, *values[len(values) - after :]]
                target_elts = [e.value if isinstance(e, ast.Starred) else e for e in target.elts]
                for elt, v in zip(target_elts, values, strict=True):
                    self.assign(elt, v, origin)
                return
            if len(values) != len(target.elts):
                raise _Fail(target, f"ValueError: expected {len(target.elts)} values to unpack, got {len(values)}")
            for elt, v in zip(target.elts, values, strict=True):
                self.assign(elt, v, origin)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if isinstance(container, Opaque) or isinstance(key, Opaque):
                return
            if isinstance(container, LDict):
                if container.config_dict:
                    expandable(self.budget, value)
                    value = hook(value)
                container.set(key, value, origin)
            elif isinstance(container, list):
                if isinstance(key, slice):
                    goes_through(self.budget, value)
                container[key] = value
            else:
                raise _Fail(target, f"TypeError: '{_type_name(container)}' object does not support item assignment")
        elif isinstance(target, ast.Attribute):
            container = self.eval(target.value)
            if isinstance(container, Opaque):
                return
            if isinstance(container, LDict) and container.config_dict:
                expandable(self.budget, value)
                container.set(target.attr, hook(value), origin)
            else:
                raise _Fail(
                    target,
                    f"AttributeError: '{_type_name(container)}' object has no attribute '{target.attr}'",
                )
        elif isinstance(target, ast.Starred):
            self._opaque(target, "starred assignment")
        else:
            self._opaque(target, "this assignment target")

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        op = _IBINOPS[type(stmt.op)]
        target = stmt.target
        rhs = self.eval(stmt.value)
        if isinstance(target, ast.Name):
            current = self.lookup(target)
            self._bind_name(target.id, self._binop(stmt, op, current, rhs), self.origin(stmt))
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            current = self.eval(target)
            self.assign(target, self._binop(stmt, op, current, rhs), self.origin(stmt))
        else:
            self._opaque(stmt, "this augmented assignment")

    def delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            scope = self.scopes[-1] if self.scopes else self.globals
            if target.id not in scope:
                raise _Fail(target, f"NameError: name '{target.id}' is not defined")
            del scope[target.id]
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if isinstance(container, Opaque) or isinstance(key, Opaque):
                return
            try:
                del container[key]
            except PYTHON_ERRORS as e:
                raise _Fail(target, python_message(e)) from None
        elif isinstance(target, ast.Attribute):
            container = self.eval(target.value)
            if isinstance(container, Opaque):
                return
            if isinstance(container, LDict) and container.config_dict and target.attr in container:
                del container[target.attr]
            else:
                raise _Fail(target, f"AttributeError: {target.attr}")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.delete(elt)
        else:
            self._opaque(target, "this `del` target")

    # -- expressions ------------------------------------------------------------------------

    def eval_expression(self, node: ast.expr) -> Any:
        """Evaluate one expression on its own; a Python error becomes an error diagnostic and an
        opaque value, and so does a value beyond the limits."""
        try:
            value = self.eval(node)
        except _Fail as f:
            return self._error(f.node, f.message)
        except StepsSpent:
            return self._too_expensive(
                node, f"it takes more than {self.budget.limits.steps:,} evaluation steps, the most losstune takes"
            )
        holder = LDict()
        text = _clip(self.src.segment(self.span(node)))
        holder.set(text, value, self.origin(node))
        refuse_oversized(holder, self.diagnostics, self.budget.limits)
        return holder[text]

    def eval(self, node: ast.expr) -> Any:
        """The value of ``node``. This is the one place where a Python exception raised by an
        operation becomes a diagnostic at the expression (as :class:`_Fail`, reported by the
        statement), and where a construct that cannot be evaluated or crosses a limit becomes an
        opaque value."""
        budget = self.budget
        budget.steps += 1
        if budget.steps > budget.allowed:
            raise StepsSpent()
        method = getattr(self, "_eval_" + type(node).__name__, None)
        if method is None:
            return self._opaque(node, f"a `{type(node).__name__}` expression")
        try:
            return method(node)
        except Unsupported as u:
            return self._opaque(node, str(u))
        except TooExpensive as t:
            return self._too_expensive(node, t.reason)
        except Unknown as u:
            return u.value
        except PyError as e:
            raise _Fail(node, str(e)) from None
        except PYTHON_ERRORS as e:
            raise _Fail(node, python_message(e)) from None

    def _eval_NamedExpr(self, node: ast.NamedExpr) -> Any:
        value = self.eval(node.value)
        # Bound in the scope that holds the expression: never a comprehension's own.
        self.globals.set(node.target.id, value, self.origin(node.value))
        return value

    def _eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _eval_JoinedStr(self, node: ast.JoinedStr) -> Any:
        parts: list[str] = []
        total = 0
        for value in node.values:
            part = self.eval(value)
            if isinstance(part, Opaque):
                return part
            total += len(part)
            self.budget.sized(total, "string")
            parts.append(part)
        return "".join(parts)

    def _eval_FormattedValue(self, node: ast.FormattedValue) -> Any:
        value = self.eval(node.value)
        if isinstance(value, Opaque):
            return value
        if node.conversion in (ord("r"), ord("s"), ord("a")):
            value = convert(self.budget, value, chr(node.conversion))
        spec = ""
        if node.format_spec is not None:
            spec = self.eval(node.format_spec)
            if isinstance(spec, Opaque):
                return spec
        return format_value(self.budget, value, spec)

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
        if name in _BUILTIN_NAMES:
            return Builtin(name)
        raise _Fail(node, f"NameError: name '{name}' is not defined")

    def _eval_Name(self, node: ast.Name) -> Any:
        value = self.lookup(node)
        if isinstance(value, Dropped):
            if value.name in PURE_MODULE_FUNCTIONS or any(
                f.startswith(value.name + ".") for f in PURE_MODULE_FUNCTIONS
            ):
                return ModuleRef(value.name)
            raise Unsupported(f"`{node.id}` is a module or function defined in the config")
        return value

    def _eval_List(self, node: ast.List) -> Any:
        return self._elements(node.elts)

    def _eval_Tuple(self, node: ast.Tuple) -> Any:
        elts = self._elements(node.elts)
        return elts if isinstance(elts, Opaque) else tuple(elts)

    def _eval_Set(self, node: ast.Set) -> Any:
        elts = self._elements(node.elts)
        return elts if isinstance(elts, Opaque) else set(elts)

    def _elements(self, elts: list[ast.expr]) -> Any:
        out: list[Any] = []
        for elt in elts:
            if isinstance(elt, ast.Starred):
                value = self.eval(elt.value)
                if isinstance(value, Opaque):
                    return value
                self.budget.sized(len(out) + length(value), "list")
                out.extend(value)
            else:
                out.append(self.eval(elt))
        return out

    def _eval_Dict(self, node: ast.Dict) -> Any:
        out = LDict()
        out.span = self.span(node)
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                value = self.eval(v)
                if isinstance(value, Opaque):
                    return value
                self._update_from(out, value, v)
            else:
                key = self.eval(k)
                if isinstance(key, Opaque):
                    return key
                out.set(key, self.eval(v), self.origin(v))
        return out

    def _update_from(self, out: LDict, value: Any, node: ast.expr) -> None:
        if not isinstance(value, dict):
            raise PyError(f"TypeError: '{_type_name(value)}' object is not a mapping")
        self.budget.charge(len(value))
        fallback = self.origin(node)
        for k, v in value.items():
            origin = value.origins.get(k, fallback) if isinstance(value, LDict) else fallback
            out.set(k, v, origin)

    def _eval_BinOp(self, node: ast.BinOp) -> Any:
        left = self.eval(node.left)
        right = self.eval(node.right)
        return self._binop(node, _BINOPS[type(node.op)], left, right)

    def _binop(self, node: ast.AST, op: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
        if isinstance(left, Opaque):
            return left
        if isinstance(right, Opaque):
            return right
        if isinstance(left, _CODE) or isinstance(right, _CODE):
            raise Unsupported("an operation on a function or module")
        result = binary(self.budget, op, left, right)
        if isinstance(result, dict) and not isinstance(result, LDict):
            out = LDict(result)
            for side in (left, right):
                if isinstance(side, LDict):
                    out.origins.update({k: o for k, o in side.origins.items() if k in out})
            return out
        return result

    def _eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.eval(node.operand)
        if isinstance(operand, Opaque):
            return operand
        if isinstance(operand, _CODE):
            raise Unsupported("an operation on a function or module")
        return _UNARY[type(node.op)](operand)

    def _eval_BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for sub in node.values:
            value = self.eval(sub)
            if isinstance(value, Opaque):
                return value
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _eval_Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comp)
            if isinstance(left, Opaque):
                return left
            if isinstance(right, Opaque):
                return right
            if isinstance(left, _CODE) or isinstance(right, _CODE):
                raise Unsupported("comparing a function or module")
            ok = compare(self.budget, _CMPOPS[type(op)], left, right)
            if not ok:
                return False
            left = right
        return True

    def _eval_IfExp(self, node: ast.IfExp) -> Any:
        test = self.eval(node.test)
        if isinstance(test, Opaque):
            return test
        return self.eval(node.body if test else node.orelse)

    def _eval_Subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        key = self.eval(node.slice)
        if isinstance(container, Opaque):
            return container
        if isinstance(key, Opaque):
            return key
        if isinstance(container, _CODE):
            raise Unsupported("an item of a function or module")
        value = container[key]
        if isinstance(key, slice):
            self.budget.work(len(value))
        return value

    def _eval_Slice(self, node: ast.Slice) -> Any:
        parts = [None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)]
        for p in parts:
            if isinstance(p, Opaque):
                return p
        return slice(*parts)

    def _eval_chain(self, node: ast.expr) -> Any:
        """Evaluate the head of ``a.b.c(...)`` letting an unsupported step fail the whole chain,
        so that the opaque value and its warning cover the full call, not just ``a``."""
        if isinstance(node, ast.Name):
            return self._eval_Name(node)
        if isinstance(node, ast.Attribute):
            return self._eval_Attribute(node)
        return self.eval(node)

    def _eval_Attribute(self, node: ast.Attribute) -> Any:
        obj = self._eval_chain(node.value)
        if isinstance(obj, Opaque):
            return obj
        name = node.attr
        if isinstance(obj, ModuleRef):
            return ModuleRef(f"{obj.name}.{name}")
        if isinstance(obj, LazyRef):
            return obj.get_attr(name)
        if name.startswith("_") and not (isinstance(obj, LDict) and obj.config_dict):
            raise Unsupported(f"access to the private attribute `{name}`")
        method = method_of(obj, name)
        if method is not None:
            return method
        found, value = number_attribute(obj, name)
        if found:
            return value
        if isinstance(obj, LDict) and obj.config_dict:
            if name in obj:
                return obj[name]
            raise PyError(f"AttributeError: 'ConfigDict' object has no attribute '{name}'")
        if isinstance(obj, _PLAIN) and not hasattr(python_type(obj), name):
            raise PyError(f"AttributeError: '{_type_name(obj)}' object has no attribute '{name}'")
        raise Unsupported(f"the attribute `{name}` of a {_type_name(obj)}")

    def _eval_Call(self, node: ast.Call) -> Any:
        func = self._eval_chain(node.func)
        if isinstance(func, Opaque):
            return func
        args = self._elements(node.args)
        if isinstance(args, Opaque):
            return args
        kwargs: dict[str, Any] = {}
        origins: dict[Any, Origin] = {}
        for kw in node.keywords:
            value = self.eval(kw.value)
            if isinstance(value, Opaque) and kw.arg is None:
                return value
            if kw.arg is None:
                if not isinstance(value, dict):
                    raise PyError(f"TypeError: argument after ** must be a mapping, not {_type_name(value)}")
                self.budget.charge(len(value))
                fallback = self.origin(kw.value)
                for k, v in value.items():
                    self._keyword(func, kwargs, k)
                    kwargs[k] = v
                    origins[k] = value.origins.get(k, fallback) if isinstance(value, LDict) else fallback
            else:
                if kw.arg in kwargs:  # given by a `**` before it
                    self._keyword(func, kwargs, kw.arg)
                kwargs[kw.arg] = value
                origins[kw.arg] = self.origin(kw.value)
        if isinstance(func, Builtin):
            return self._call_builtin(node, func.name, args, kwargs, origins)
        if isinstance(func, LazyRef):
            raise PyError(f"RuntimeError: `{func.text()}` is imported lazily and cannot be called in a config")
        if isinstance(func, ModuleRef):
            if func.name not in PURE_MODULE_FUNCTIONS:
                raise Unsupported(f"a call of `{func.name}`")
            for a in list(args) + list(kwargs.values()):
                if isinstance(a, Opaque):
                    return a
            return call_module_function(self.budget, func.name, args, kwargs)
        if isinstance(func, BoundMethod):
            if isinstance(func.obj, LDict) and func.name == "setdefault" and args:
                origins[args[0]] = self.origin(node.args[1] if len(node.args) > 1 else node.args[0])
            for a in args:
                if isinstance(a, Opaque):
                    return a
            for v in kwargs.values():
                if isinstance(v, Opaque) and func.name not in ("update", "setdefault"):
                    return v
            return call_method(self.budget, func, args, kwargs, origins)
        raise Unsupported(f"a call of {_type_name(func)}")

    @staticmethod
    def _keyword(func: Any, kwargs: dict[str, Any], name: Any) -> None:
        """Python's checks of one keyword argument: a string, given once."""
        if not isinstance(name, str):
            raise PyError("TypeError: keywords must be strings")
        if name in kwargs:
            raise PyError(f"TypeError: {_callable_name(func)}() got multiple values for keyword argument '{name}'")

    def _call_builtin(
        self, node: ast.Call, name: str, args: list[Any], kwargs: dict[str, Any], origins: dict[Any, Origin]
    ) -> Any:
        if name == "dict":
            out = LDict()
            out.span = self.span(node)
            if len(args) > 1:
                raise PyError(f"TypeError: dict expected at most 1 argument, got {len(args)}")
            if args:
                src = args[0]
                if isinstance(src, Opaque):
                    return src
                if isinstance(src, dict):
                    self._update_from(out, src, node.args[0])
                else:
                    goes_through(self.budget, src)
                    dict(src)  # Python's checks of the pairs, with its own messages
                    fallback = self.origin(node.args[0])
                    for k, v in src:
                        out.set(k, v, fallback)
            for k, v in kwargs.items():
                out.set(k, v, origins.get(k))
            return out
        if name == "print":
            return None
        if name not in BUILTIN_FUNCTIONS:
            raise Unsupported(f"a call of `{name}`")
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, Opaque):
                return a
        if name == "isinstance" and len(args) == 2:
            args = [args[0], _as_types(args[1])]
        return call_builtin(self.budget, name, args, kwargs)

    # -- comprehensions ---------------------------------------------------------------------

    def _comprehension(self, node: ast.AST, generators: list[ast.comprehension], emit: Callable[[], None]) -> Any:
        self.scopes.append({})
        budget = self.budget
        try:

            def loop(i: int) -> Any:
                if i == len(generators):
                    emit()
                    return None
                gen = generators[i]
                iterable = self.eval(gen.iter)
                if isinstance(iterable, Opaque):
                    return iterable
                for item in iter(iterable):
                    budget.charge(1)
                    self.assign(gen.target, item, None)
                    skip = False
                    for cond in gen.ifs:
                        test = self.eval(cond)
                        if isinstance(test, Opaque):
                            return test
                        if not test:
                            skip = True
                            break
                    if not skip:
                        r = loop(i + 1)
                        if isinstance(r, Opaque):
                            return r
                return None

            return loop(0)
        finally:
            self.scopes.pop()

    def _eval_ListComp(self, node: ast.ListComp) -> Any:
        out: list[Any] = []
        failed = self._comprehension(node, node.generators, lambda: out.append(self.eval(node.elt)))
        return failed if isinstance(failed, Opaque) else out

    def _eval_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        out: list[Any] = []
        failed = self._comprehension(node, node.generators, lambda: out.append(self.eval(node.elt)))
        return failed if isinstance(failed, Opaque) else out

    def _eval_SetComp(self, node: ast.SetComp) -> Any:
        out: list[Any] = []
        failed = self._comprehension(node, node.generators, lambda: out.append(self.eval(node.elt)))
        return failed if isinstance(failed, Opaque) else set(out)

    def _eval_DictComp(self, node: ast.DictComp) -> Any:
        out = LDict()
        out.span = self.span(node)

        def emit() -> None:
            key = self.eval(node.key)
            out.set(key, self.eval(node.value), self.origin(node.value))

        failed = self._comprehension(node, node.generators, emit)
        return failed if isinstance(failed, Opaque) else out


# Every name Python's builtins module defines: a value a config may name (and pass around) but
# only call when it is one of BUILTIN_FUNCTIONS. `exit` and `quit` come from the site module.
_BUILTIN_NAMES = frozenset(name for name in vars(builtins) if not name.startswith("__") or name == "__import__") | {
    "exit",
    "quit",
    "copyright",
    "credits",
    "license",
    "help",
}
_CODE = (Builtin, BoundMethod, ModuleRef, LazyRef, Dropped)
_NOT_EVALUATED = "not evaluated: the file's evaluation steps are spent"
_MUTATORS = frozenset("append extend insert pop remove sort reverse clear update setdefault merge".split())
_PLAIN = (dict, list, tuple, str, int, float, bool, complex, type(None), set, frozenset, bytes)


def _is_known_module(name: str) -> bool:
    return name in PURE_MODULE_FUNCTIONS or any(f.startswith(name + ".") for f in PURE_MODULE_FUNCTIONS)


def _as_types(value: Any) -> Any:
    if isinstance(value, Builtin):
        if value.name in BUILTIN_TYPES:
            return BUILTIN_TYPES[value.name]
        raise Unsupported(f"isinstance with `{value.name}`")
    if isinstance(value, tuple):
        return tuple(_as_types(v) for v in value)
    raise Unsupported("isinstance with this type")


def _callable_name(func: Any) -> str:
    """The name Python gives a function in its messages: ``dict``, ``dict.update``."""
    if isinstance(func, Builtin):
        return func.name
    if isinstance(func, BoundMethod):
        return f"{python_type(func.obj).__name__}.{func.name}"
    if isinstance(func, ModuleRef):
        return func.name.rsplit(".", 1)[-1]
    return type(func).__name__


def _type_name(value: Any) -> str:
    if isinstance(value, LDict):
        return "ConfigDict" if value.config_dict else "dict"
    if isinstance(value, Builtin):
        return f"built-in `{value.name}`"
    if isinstance(value, BoundMethod):
        return f"method `{value.name}`"
    return type(value).__name__


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _assigned_names(stmt: ast.stmt) -> list[str]:
    """The names written in the targets of an assignment that are names, tuples or lists."""
    if type(stmt) is ast.Assign:
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    else:
        return []
    names: list[str] = []
    for t in targets:
        if type(t) is ast.Name:
            names.append(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            names.extend(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _walrus_names(stmt: ast.stmt) -> list[str]:
    """The names the ``:=`` inside a statement bind."""
    return [n.target.id for n in ast.walk(stmt) if isinstance(n, ast.NamedExpr)]


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _affected_names(stmt: ast.stmt, walrus: bool) -> list[str]:
    """The names a statement that stopped half way may have left half-changed: those a simple
    statement assigns (and binds with ``:=``, when ``walrus`` says the file may have one); for a
    compound one (a loop...), every name assigned or changed inside it (``d[k] = v``,
    ``d.update(...)``)."""
    if not isinstance(stmt, (ast.For, ast.While, ast.If, ast.With, ast.Try)):
        assigned = _assigned_names(stmt)
        return assigned + _walrus_names(stmt) if walrus else assigned
    names: list[str] = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = _root_name(node)
            if root is not None:
                names.append(root)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            root = _root_name(node.func.value)
            if root is not None:
                names.append(root)
    return list(dict.fromkeys(n for n in names if n != BASE_KEY))

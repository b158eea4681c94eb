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
from collections.abc import Callable
from typing import Any, Literal

from losstune.loader import codes
from losstune.loader.budget import Budget, StepsSpent, TooExpensive, refuse_oversized
from losstune.loader.pyast import is_base_assignment
from losstune.loader.pybuiltins import Builtin
from losstune.loader.pycalls import Calls
from losstune.loader.pycomprehend import Comprehensions
from losstune.loader.pycore import PLAIN, Fail, clip, handlers
from losstune.loader.pyeffects import Effects, affected_names, effects
from losstune.loader.pyerrors import (
    PYTHON_ERRORS,
    PyError,
    Unknown,
    Unsupported,
    exception_type,
    python_message,
)
from losstune.loader.pyexpr import is_known_module
from losstune.loader.pyformat import exception_line
from losstune.loader.source import SourceText
from losstune.loader.values import Dropped, LDict, Opaque
from losstune.model import Diagnostic, Span

# `unknown`: a `break` or `continue` that may run, in a block that is not run; what the rest of the
# loop does is then unknown (and made so), and the loop stops as at a `break`.
LoopExit = Literal["break", "continue", "unknown"]
_NOT_EVALUATED = "not evaluated: the file's evaluation steps are spent"


# How many of the names a block that is not run leaves unknown its warning lists.
_LISTED = 5


class _Loop(Exception):
    """``break`` or ``continue``, on its way to the loop it leaves."""

    def __init__(self, kind: LoopExit) -> None:
        self.kind: LoopExit = kind


class Interpreter(Calls, Comprehensions):
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
        super().__init__(src, base, diagnostics, budget)
        # New-style configs bind their imports differently (see lazyconfig.py).
        self.import_handler = import_handler
        self._executors = handlers(type(self), "_exec_")
        # The loops being run, innermost last.
        self._loops: list[ast.For | ast.While] = []

    # -- the module -------------------------------------------------------------------------

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
                    self._not_evaluated(body[i + 1 :], self.span(stmt))
                    break
        refuse_oversized(self.globals, self.diagnostics, self.budget.limits)
        if self.base is not None and self.changed_in_place:
            # `_base_.model.x = _base_` changes the bases themselves: they are merged under the
            # file's names, so they too must not contain themselves nor exceed the limits.
            refuse_oversized(self.base, self.diagnostics, self.budget.limits)
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
        self._not_evaluated([stmt], self.span(stmt))
        return final

    def _not_evaluated(self, stmts: list[ast.stmt], spent_at: Span) -> None:
        """Make the names the statements would assign unknown, without evaluating them: each is
        an opaque value at ``spent_at``, the statement that spent the steps (where the reason is
        reported)."""
        walrus = self._walrus
        out = self.globals
        for stmt in stmts:
            if type(stmt) is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name and not walrus:
                out.set(stmt.targets[0].id, Opaque(_NOT_EVALUATED, stmt.targets[0].id, spent_at), None)
                continue  # `x = ...`, nearly every statement of a config
            for name in affected_names(stmt, walrus):
                out.set(name, Opaque(_NOT_EVALUATED, name, spent_at), None)

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
        except Fail as f:
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
            for name in affected_names(stmt, self._walrus):
                self._bind_name(name, Opaque(unknown.reason, name, span), None)

    # -- statements, each by its `_exec_<class>` method -------------------------------------

    def _exec(self, stmt: ast.stmt) -> None:
        method = self._executors.get(type(stmt))
        if method is not None:
            method(self, stmt)
            return
        self._not_run([stmt], stmt, f"a `{type(stmt).__name__.lower()}` statement")

    def _not_run(
        self,
        body: list[ast.stmt],
        at: ast.AST,
        what: str,
        targets: tuple[ast.expr, ...] = (),
        value: Opaque | None = None,
    ) -> None:
        """``body`` (after binding ``targets``) is not run, as ``at`` is unknown (``what`` it is,
        its ``value``): report that at ``at``, naming what becomes unknown, and make it so. A
        ``break`` or ``continue`` in it that may run makes what the loop around it does unknown,
        and stops the loop."""
        found = effects(body, targets)
        leaves = found.exits_loop and bool(self._loops)
        if leaves:
            found = effects([self._loops[-1]])
        reason = what + self._so_unknown(found)
        span = self.span(at)
        if value is not None and value.span == span and self._withdraw(codes.OPAQUE_VALUE, span):
            # The warning just given at the condition says why it is unknown: one says both.
            reason = f"{value.reason}, and it is {reason}"
        unknown = self._opaque(at, reason)
        self.forget(found, unknown.reason, span)
        if leaves:
            raise _Loop("unknown")

    def _so_unknown(self, found: Effects) -> str:
        """``, so `x` and `d['k']` are unknown too``: what ``found`` lists, or nothing."""
        texts: list[str] = []
        for item in found.described:
            if isinstance(item, str):
                texts.append(item)
                continue
            text = clip(self.src.segment(self.span(item.node)), 40)
            if item.keys is not None:
                texts.extend(f"{text}[{key!r}]" for key in item.keys)
            else:
                texts.append(text)
        texts = list(dict.fromkeys(texts))
        if not texts:
            return ""
        shown = [f"`{t}`" for t in texts[:_LISTED]]
        if len(texts) > _LISTED:
            shown.append(f"{len(texts) - _LISTED} more")
        listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        return f", so {listed} {'is' if len(texts) == 1 else 'are'} unknown too"

    def _exec_Assign(self, stmt: ast.Assign) -> None:
        if is_base_assignment(stmt):
            return  # mmengine removes every `_base_ = ...` before running the file
        value = self.eval(stmt.value)
        origin = self.origin(stmt.value)
        for target in stmt.targets:
            self.assign(target, value, origin)

    def _exec_AnnAssign(self, stmt: ast.AnnAssign) -> None:
        if stmt.value is not None:
            self.assign(stmt.target, self.eval(stmt.value), self.origin(stmt.value))

    def _exec_AugAssign(self, stmt: ast.AugAssign) -> None:
        self.aug_assign(stmt)

    def _exec_Expr(self, stmt: ast.Expr) -> None:
        self.eval(stmt.value)

    def _exec_Delete(self, stmt: ast.Delete) -> None:
        for target in stmt.targets:
            self.delete(target)

    def _exec_Pass(self, stmt: ast.Pass) -> None:
        pass

    def _exec_Import(self, stmt: ast.Import) -> None:
        if self.import_handler and self.import_handler(self, stmt):
            return
        for alias in stmt.names:
            if alias.asname:
                self._bind_name(alias.asname, Dropped(alias.name), None)
            else:
                top = alias.name.split(".")[0]
                self._bind_name(top, Dropped(top), None)
            if not is_known_module(alias.name):
                self._opaque(stmt, f"imports are not executed, and `{alias.name}` is not a module losstune knows")

    def _exec_ImportFrom(self, stmt: ast.ImportFrom) -> None:
        if self.import_handler and self.import_handler(self, stmt):
            return
        for alias in stmt.names:
            if alias.name == "*":
                self._opaque(stmt, "a star import")
                continue
            full = f"{stmt.module}.{alias.name}"
            self._bind_name(alias.asname or alias.name, Dropped(full), None)
            if not is_known_module(full):
                self._opaque(stmt, f"imports are not executed, and `{full}` is not a function losstune knows")

    def _exec_FunctionDef(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
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

    _exec_AsyncFunctionDef = _exec_FunctionDef

    def _exec_ClassDef(self, stmt: ast.ClassDef) -> None:
        self._bind_name(stmt.name, self._opaque(stmt, "a class definition"), self.origin(stmt))

    def _exec_If(self, stmt: ast.If) -> None:
        test = self.eval(stmt.test)
        if isinstance(test, Opaque):
            self._not_run(stmt.body + stmt.orelse, stmt.test, "the condition of an `if`", value=test)
            return
        self.exec_block(stmt.body if test else stmt.orelse)

    def _exec_For(self, stmt: ast.For) -> None:
        iterable = self.eval(stmt.iter)
        if isinstance(iterable, Opaque):
            self._not_run(stmt.body + stmt.orelse, stmt.iter, "the iterable of a `for`", (stmt.target,), iterable)
            return
        try:
            items = iter(iterable)
        except TypeError as e:
            raise Fail(stmt.iter, python_message(e)) from None
        broke = False
        budget = self.budget
        origin = self.origin(stmt.iter)
        # The loop goes through the live value, as Python does: a dict changed while it is looped
        # over fails as in Python, and a list that grows is stopped by the budget.
        self._loops.append(stmt)
        try:
            for item in items:
                budget.charge(1)
                self.assign(stmt.target, item, origin)
                try:
                    self.exec_block(stmt.body)
                except _Loop as loop:
                    if loop.kind != "continue":
                        broke = True
                        break
        finally:
            self._loops.pop()
        if not broke:
            self.exec_block(stmt.orelse)

    def _exec_While(self, stmt: ast.While) -> None:
        budget = self.budget
        while True:
            test = self.eval(stmt.test)
            if isinstance(test, Opaque):
                self._not_run(stmt.body + stmt.orelse, stmt.test, "the condition of a `while`", value=test)
                return
            if not test:
                break
            budget.charge(1)
            self._loops.append(stmt)
            try:
                self.exec_block(stmt.body)
            except _Loop as loop:
                if loop.kind != "continue":
                    return
            finally:
                self._loops.pop()
        self.exec_block(stmt.orelse)

    def _exec_Break(self, stmt: ast.Break) -> None:
        raise _Loop("break")

    def _exec_Continue(self, stmt: ast.Continue) -> None:
        raise _Loop("continue")

    def _exec_Raise(self, stmt: ast.Raise) -> None:
        raise PyError(self._raised(stmt))

    def _raised(self, stmt: ast.Raise) -> str:
        """The line Python prints for the exception ``stmt`` raises (mmengine stops on any)."""
        if stmt.exc is None:
            return "RuntimeError: No active exception to reraise"
        call = stmt.exc if isinstance(stmt.exc, ast.Call) else None
        raised = self._eval_chain(call.func if call is not None else stmt.exc)
        kind = exception_type(raised.name) if isinstance(raised, Builtin) else None
        if kind is None:
            if isinstance(raised, PLAIN):
                return "TypeError: exceptions must derive from BaseException"
            return f"`{clip(self.src.segment(self.span(stmt)))}` raises an exception"
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

    def _exec_Assert(self, stmt: ast.Assert) -> None:
        test = self.eval(stmt.test)
        if not isinstance(test, Opaque) and not test:
            raise Fail(stmt, "AssertionError")

    # -- one expression on its own ----------------------------------------------------------

    def eval_expression(self, node: ast.expr) -> Any:
        """Evaluate one expression on its own; a Python error becomes an error diagnostic and an
        opaque value, and so does a value beyond the limits."""
        try:
            value = self.eval(node)
        except Fail as f:
            return self._error(f.node, f.message)
        except StepsSpent:
            return self._too_expensive(
                node, f"it takes more than {self.budget.limits.steps:,} evaluation steps, the most losstune takes"
            )
        holder = LDict()
        text = clip(self.src.segment(self.span(node)))
        holder.set(text, value, self.origin(node))
        refuse_oversized(holder, self.diagnostics, self.budget.limits)
        return holder[text]

"""What Python's compiler refuses in a module that its parser accepts.

``ast.parse`` accepts ``return`` or ``yield`` at the top level of a file, ``nonlocal`` there, a
``global`` after the name is assigned, ``break`` outside a loop, ``dict(a=1, a=2)``, a late
``from __future__`` import...; ``compile()``, which mmengine calls on the tree before running it,
refuses each with a ``SyntaxError``. :func:`check` compiles the tree (compiling runs nothing) and
raises that error, with Python's own message and position, so that such a file is a syntax
error and not an evaluation.
"""

from __future__ import annotations

import ast

from losstune.loader.pysource import ParserWarning, kept_warnings

# Words without which no statement of a module depends on another one for the compiler.
_CROSS_STATEMENT_WORDS = ("global", "nonlocal", "__future__")


def check(module: ast.Module, text: str, filename: str) -> list[ParserWarning]:
    """Compile ``module`` (parsed from ``text``) without running it: raises the ``SyntaxError``
    Python's compiler raises (and ``RecursionError``/``MemoryError`` where it gives up), and
    returns the warnings it gives (``"is" with a literal``), none of them printed."""
    body = module.body
    if not any(word in text for word in _CROSS_STATEMENT_WORDS):
        # Each statement is then compiled on its own terms, and one that binds a literal to a
        # name has nothing the compiler could refuse: leaving those out keeps a file of
        # generated assignments from costing a second parse's time here.
        body = [stmt for stmt in body if not _binds_a_literal(stmt)]
    with kept_warnings() as found:
        compile(ast.Module(body=body, type_ignores=[]), filename, "exec", dont_inherit=True)
    return found


def _binds_a_literal(stmt: ast.stmt) -> bool:
    """``x = 1``, ``a = b = 'text'``: names (other than ``__debug__``) bound to a constant."""
    if type(stmt) is not ast.Assign or type(stmt.value) is not ast.Constant:
        return False
    return all(type(t) is ast.Name and t.id != "__debug__" for t in stmt.targets)

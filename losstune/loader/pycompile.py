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
from collections.abc import Collection

from losstune.loader.pysource import ParserWarning, kept_warnings

# Words without which no statement of a module depends on another one for the compiler.
_CROSS_STATEMENT_WORDS = ("global", "nonlocal", "__future__")


def check(module: ast.Module, text: str, filename: str, left_out: Collection[int] | None = None) -> list[ParserWarning]:
    """Compile ``module`` (parsed from ``text``) without running it: raises the ``SyntaxError``
    Python's compiler raises (and ``RecursionError``/``MemoryError`` where it gives up), and
    returns the warnings it gives (``"is" with a literal``), none of them printed. ``left_out``:
    the positions in ``module.body`` of the statements :func:`cannot_fail` holds for, when
    already known (:func:`~losstune.loader.pyast.examine` finds them)."""
    body = module.body
    if not any(word in text for word in _CROSS_STATEMENT_WORDS):
        # Each statement is then compiled on its own terms, and one that :func:`cannot_fail` has
        # nothing the compiler could refuse or warn about: leaving those out keeps the check from
        # costing a second parse's time on a config of plain assignments.
        if left_out is None:
            body = [stmt for stmt in body if not cannot_fail(stmt)]
        else:
            body = [stmt for i, stmt in enumerate(body) if i not in left_out]
        if not body:
            return []  # an empty module compiles, without a warning
    with kept_warnings() as found:
        compile(ast.Module(body=body, type_ignores=[]), filename, "exec", dont_inherit=True)
    return found


# Nesting of the value of a statement left out: far below where the compiler gives up.
_MAX_DEPTH = 50


def cannot_fail(stmt: ast.stmt) -> bool:
    """Whether compiling ``stmt`` (parsed, in a module without ``global``, ``nonlocal`` or
    ``__future__``) can neither fail nor warn: names other than ``__debug__`` bound to a value
    nested at most :data:`_MAX_DEPTH` levels and made only of constants, names, attributes,
    dicts, lists, tuples, sets, unary and binary operators, and calls of a name or attribute whose
    keywords are distinct and not ``__debug__``. The compiler refuses nothing else in those
    (folding an operator that fails is left to run time), and warns only about calling or
    comparing a literal, which they cannot hold."""
    return reads_when_plain(stmt, "") is not None


def reads_when_plain(stmt: ast.stmt, read: str) -> bool | None:
    """Where :func:`cannot_fail` holds for ``stmt``, whether its value reads the name ``read``
    (the walk that decides meets every node of the value); else ``None``."""
    if type(stmt) is not ast.Assign:
        return None
    for target in stmt.targets:
        if type(target) is not ast.Name or target.id == "__debug__":
            return None
    reads = False
    # Level by level, the nodes of each level in a list of their own: their depth is the level's.
    level: list[ast.expr] = [stmt.value]
    depth = 0
    while level:
        below: list[ast.expr] = []
        push = below.append
        for node in level:
            kind = type(node)
            if kind is ast.Constant:
                continue
            if kind is ast.Name:
                if node.id == read and isinstance(node.ctx, ast.Load):  # type: ignore[attr-defined]
                    reads = True
                continue
            if depth >= _MAX_DEPTH:
                return None
            if kind is ast.Call:
                func = node.func  # type: ignore[attr-defined]
                if type(func) is not ast.Name and type(func) is not ast.Attribute:
                    return None
                push(func)
                for arg in node.args:  # type: ignore[attr-defined]
                    push(arg.value if type(arg) is ast.Starred else arg)
                names: set[str] = set()
                for keyword in node.keywords:  # type: ignore[attr-defined]
                    name = keyword.arg
                    if name is not None:
                        if name in names or name == "__debug__":
                            return None
                        names.add(name)
                    push(keyword.value)
            elif kind is ast.Dict:
                for key in node.keys:  # type: ignore[attr-defined]
                    if key is not None:  # None: `**mapping`
                        push(key)
                below.extend(node.values)  # type: ignore[attr-defined]
            elif kind is ast.List or kind is ast.Tuple or kind is ast.Set:
                for element in node.elts:  # type: ignore[attr-defined]
                    push(element.value if type(element) is ast.Starred else element)
            elif kind is ast.Attribute:
                push(node.value)  # type: ignore[attr-defined]
            elif kind is ast.UnaryOp:
                push(node.operand)  # type: ignore[attr-defined]
            elif kind is ast.BinOp:
                push(node.left)  # type: ignore[attr-defined]
                push(node.right)  # type: ignore[attr-defined]
            else:
                return None
        level = below
        depth += 1
    return reads

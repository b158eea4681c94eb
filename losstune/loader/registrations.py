"""What one Python module registers in an OpenMMLab registry, read from its syntax tree.

The module is parsed, never run: its classes (with the parameters of their ``__init__`` and the
names of their bases), the classes it registers (``@MODELS.register_module(...)`` on a class, or a
``MODELS.register_module(module=C)`` call at the top level), the registry each goes to, and what it
imports. Only statements that run when the module is imported count: the top level, and the bodies
of ``if``, ``try`` and ``with`` there, never the body of a function.

A registry's scope is found the way mmengine finds it: the top-level package of the module that
creates the registry (``from mmdet.registry import MODELS`` is a registry of ``mmdet``), or the
``scope=`` a ``Registry(...)`` call gives. A default value of a parameter is taken when it is a
literal (``ast.literal_eval`` of that one expression); any other default is kept as its text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Literal, cast

from msgspec import Struct, field

from losstune.loader import pysource

KeywordUse = Literal["none", "ignored", "forwarded", "used"]
"""What ``__init__`` does with its ``**kwargs``: it has none; it never uses them; it only passes
them on to ``super().__init__``; it uses them some other way."""


class Param(Struct, frozen=True):
    """A parameter that can be passed by keyword. ``default`` is the value of a literal default;
    ``default_text`` is the default as written, for any default."""

    name: str
    has_default: bool = False
    literal: bool = False
    default: object = None
    default_text: str = ""


class Signature(Struct, frozen=True):
    """The keyword parameters of an ``__init__`` and what it does with ``**kwargs``."""

    params: tuple[Param, ...]
    kwargs: KeywordUse


class ClassInfo(Struct, frozen=True):
    """A class defined in the module: ``init`` is ``None`` where it defines no ``__init__`` (it is
    inherited), and ``opaque`` where it sets ``__init__`` some way other than ``def``."""

    name: str
    line: int
    bases: tuple[str, ...]
    init: Signature | None
    opaque: bool = False


class RegistryRef(Struct, frozen=True):
    """A registry object: its scope and the name it is known by where it is made (``MODELS``)."""

    scope: str
    variable: str


class Registration(Struct, frozen=True):
    """``registry.register_module(...)`` of the class the module knows as ``target``; ``names``
    empty where the name given is not a literal (it cannot be known without running the module)."""

    target: str
    names: tuple[str, ...]
    registry: RegistryRef
    force: bool
    line: int


class Import(Struct, frozen=True):
    """An import the module makes when it is imported: ``module`` (absolute) and, for ``from M
    import a, b``, the names (``*`` for a star import)."""

    module: str
    names: tuple[str, ...] = ()


class Binding(Struct, frozen=True):
    """What a name of the module stands for: ``attribute`` of ``module`` (``from M import a``), or
    the module itself where ``attribute`` is ``None`` (``import M as m``)."""

    module: str
    attribute: str | None


class ModuleFacts(Struct):
    """Everything :func:`read_module` takes from one module."""

    classes: dict[str, ClassInfo] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    bindings: dict[str, Binding] = field(default_factory=dict)
    registries: dict[str, RegistryRef] = field(default_factory=dict)


def read_module(text: str, module: str, is_package: bool, filename: str) -> ModuleFacts:
    """The facts of the module ``module`` (its source ``text``). Raises what :func:`ast.parse`
    raises on text that is not Python (see :data:`~losstune.loader.pysource.PARSE_ERRORS`)."""
    tree = pysource.parse_quietly(text, filename)
    reader = _Reader(module, module if is_package else module.rpartition(".")[0])
    for stmt in _run_at_import(tree.body):
        reader.statement(stmt)
    return reader.facts


# `try` and, from Python 3.11, `try`/`except*`.
_TRY: tuple[type[ast.stmt], ...] = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)


def _run_at_import(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of ``body`` that may run at import, nested blocks included."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            yield from _run_at_import(stmt.body)
            yield from _run_at_import(stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from _run_at_import(stmt.body)
        elif isinstance(stmt, _TRY):
            block_of = cast(ast.Try, stmt)
            for block in (block_of.body, *(h.body for h in block_of.handlers), block_of.orelse, block_of.finalbody):
                yield from _run_at_import(block)


def top_package(module: str) -> str:
    """The top-level package of a dotted module name: mmengine's ``infer_scope``."""
    return module.partition(".")[0]


class _Reader:
    def __init__(self, module: str, package: str) -> None:
        self.module = module
        self.package = package
        self.facts = ModuleFacts()

    def absolute(self, level: int, name: str | None) -> str | None:
        """The module a ``from`` import names, or ``None`` where it climbs above the top."""
        if level == 0:
            return name
        parts = self.package.split(".") if self.package else []
        if level - 1 > len(parts) or (level - 1 == len(parts) and not name):
            return None
        base = parts[: len(parts) - (level - 1)]
        return ".".join([*base, name] if name else base) or None

    def statement(self, stmt: ast.stmt) -> None:
        facts = self.facts
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                facts.imports.append(Import(alias.name))
                if alias.asname:
                    facts.bindings[alias.asname] = Binding(alias.name, None)
                else:
                    top = top_package(alias.name)
                    facts.bindings[top] = Binding(top, None)
        elif isinstance(stmt, ast.ImportFrom):
            source = self.absolute(stmt.level, stmt.module)
            if source is None:
                return
            facts.imports.append(Import(source, tuple(a.name for a in stmt.names)))
            for alias in stmt.names:
                if alias.name != "*":
                    facts.bindings[alias.asname or alias.name] = Binding(source, alias.name)
        elif isinstance(stmt, ast.ClassDef):
            facts.classes[stmt.name] = _class_info(stmt)
            for decorator in stmt.decorator_list:
                self.decorator(decorator, stmt)
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            self.assignment(stmt.targets[0].id, stmt.value)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.register_call(stmt.value)

    def assignment(self, name: str, value: ast.expr) -> None:
        """``R = Registry(...)``, or ``R = OTHER`` for a registry known by another name."""
        facts = self.facts
        if isinstance(value, ast.Call) and _dotted(value.func).rpartition(".")[2] == "Registry":
            scope = next((_literal_str(k.value) for k in value.keywords if k.arg == "scope"), None)
            facts.registries[name] = RegistryRef(scope or top_package(self.module), name)
        elif isinstance(value, ast.Name) and (value.id in facts.registries or value.id in facts.bindings):
            if value.id in facts.registries:
                facts.registries[name] = facts.registries[value.id]
            else:
                facts.bindings[name] = facts.bindings[value.id]

    def registry(self, node: ast.expr) -> RegistryRef:
        """The registry an expression such as ``MODELS`` or ``mmdet.registry.MODELS`` names."""
        facts = self.facts
        text = _dotted(node)
        head, _, rest = text.partition(".")
        if not rest and head in facts.registries:
            return facts.registries[head]
        binding = facts.bindings.get(head)
        if binding is not None and binding.attribute is not None and not rest:
            return RegistryRef(top_package(binding.module), binding.attribute)
        if binding is not None and binding.attribute is None and rest:
            return RegistryRef(top_package(binding.module), rest.rpartition(".")[2])
        return RegistryRef(top_package(self.module), text.rpartition(".")[2] or "?")

    def decorator(self, node: ast.expr, cls: ast.ClassDef) -> None:
        call = node if isinstance(node, ast.Call) else None
        func = call.func if call is not None else node
        if not (isinstance(func, ast.Attribute) and func.attr == "register_module"):
            return
        args = _register_args(call) if call is not None else {}
        if args is None:
            return
        self.add(cls.name, args, func.value, cls.lineno)

    def register_call(self, call: ast.Call) -> None:
        """``R.register_module(module=C, ...)`` and ``R.register_module(...)(C)``."""
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "register_module":
            args = _register_args(call)
            if args is not None and isinstance(args.get("module"), ast.Name):
                module = args["module"]
                assert isinstance(module, ast.Name)
                self.add(module.id, args, func.value, call.lineno)
        elif isinstance(func, ast.Call) and len(call.args) == 1 and isinstance(call.args[0], ast.Name):
            inner = func.func
            if isinstance(inner, ast.Attribute) and inner.attr == "register_module":
                args = _register_args(func)
                if args is not None and "module" not in args:
                    self.add(call.args[0].id, args, inner.value, call.lineno)

    def add(self, target: str, args: dict[str, ast.expr], registry: ast.expr, line: int) -> None:
        names = _names(args["name"], target) if "name" in args else (target,)
        force = "force" in args and _literal(args["force"]) is True
        self.facts.registrations.append(Registration(target, names, self.registry(registry), force, line))


def _names(node: ast.expr, target: str) -> tuple[str, ...]:
    """The names ``name=`` registers: the class's own for ``None``, a string, or a list of them."""
    if isinstance(node, ast.Constant) and node.value is None:
        return (target,)
    value = _literal(node)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ()


def _literal(node: ast.expr) -> object:
    """The value of a literal expression, or ``None`` for anything else."""
    if type(node) is ast.Constant:
        return node.value  # what `ast.literal_eval` gives a constant
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None


def _literal_str(node: ast.expr) -> str | None:
    value = _literal(node)
    return value if isinstance(value, str) else None


def _register_args(call: ast.Call) -> dict[str, ast.expr] | None:
    """The arguments of ``register_module(name=None, force=False, module=None)`` by name;
    ``None`` where they cannot be told apart (``*args``, ``**kwargs``)."""
    out: dict[str, ast.expr] = {}
    for name, arg in zip(("name", "force", "module"), call.args, strict=False):
        if isinstance(arg, ast.Starred):
            return None
        out[name] = arg
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        out[keyword.arg] = keyword.value
    return out


def _dotted(node: ast.expr) -> str:
    """``a.b.c`` for a chain of attributes on a name; ``""`` for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _class_info(cls: ast.ClassDef) -> ClassInfo:
    bases = tuple(_dotted(b) or ast.unparse(b) for b in cls.bases)
    init: Signature | None = None
    opaque = False
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "__init__":
            init, opaque = _signature(stmt), False
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(t, ast.Name) and t.id == "__init__" for t in targets):
                init, opaque = None, True
    return ClassInfo(cls.name, cls.lineno, bases, init, opaque)


def _param(arg: ast.arg, default: ast.expr | None) -> Param:
    if default is None:
        return Param(arg.arg)
    value = _literal(default)
    is_literal = value is not None or (isinstance(default, ast.Constant) and default.value is None)
    return Param(arg.arg, True, is_literal, value if is_literal else None, _text(default))


# Constants whose `ast.unparse` is their `repr` (a float's can hold `inf`, which it writes otherwise).
_REPR_CONSTANTS = frozenset((str, int, bool, type(None)))


def _text(node: ast.expr) -> str:
    """``ast.unparse(node)``, without its visitor for the defaults most parameters have."""
    if type(node) is ast.Constant and type(node.value) in _REPR_CONSTANTS:
        return ("u" if node.kind == "u" else "") + repr(node.value)
    return ast.unparse(node)


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    # `self` and positional-only parameters cannot be passed by keyword, so a config cannot set them.
    start = max(len(a.posonlyargs), 1)
    params = [_param(arg, d) for arg, d in zip(positional[start:], defaults[start:], strict=True)]
    params += [_param(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    return Signature(tuple(params), _keyword_use(fn, a.kwarg.arg) if a.kwarg else "none")


def _keyword_use(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> KeywordUse:
    """Whether ``**name`` is never used, only passed on whole to ``super().__init__``, or used."""
    uses = 0
    forwarded = 0
    for node in ast.walk(ast.Module(body=fn.body, type_ignores=[])):
        if isinstance(node, ast.Name) and node.id == name:
            uses += 1
        elif isinstance(node, ast.Call) and _is_super_init(node.func):
            forwarded += sum(
                1 for k in node.keywords if k.arg is None and isinstance(k.value, ast.Name) and k.value.id == name
            )
    if uses == 0:
        return "ignored"
    return "forwarded" if uses == forwarded else "used"


def _is_super_init(func: ast.expr) -> bool:
    """``super().__init__`` or ``super(C, self).__init__``."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )

"""losstune's import graph, built from the source: no cycles, and the loader depends on nothing above it.

The graph has one node per module of the package (a package is its ``__init__``) and an edge for
every ``import`` and ``from ... import`` naming another losstune module, wherever it is written:
at the top of the module, inside a function (an import there still runs, it only runs later, so it
hides a cycle rather than removing it), or under ``if TYPE_CHECKING:``. ``from a.b import c`` is an
edge to ``a.b.c`` when that is a module, else to ``a.b``. The parent packages Python also runs
first are not edges: ``losstune/__init__.py`` re-exports the public API, so counting it would put
every module on a cycle with it.

Each edge is marked as *runtime* (top level or in a function) or *typing* (under
``TYPE_CHECKING``). The cycle rule counts runtime edges: a typing import never runs, and two
collaborating modules may name each other's types. The layer rule counts both kinds: a type the
loader names from above the trust boundary is still a dependency on it.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "losstune"

RUNTIME = "runtime"
TYPING = "typing"

# The loader is the trust boundary: it may use its own modules and the shared types only.
LOADER = "losstune.loader"
LOADER_MAY_IMPORT = ("losstune.loader", "losstune.model", "losstune.errors")
# PyYAML reads YAML configs (its safe loader only); msgspec gives the record types (Struct).
LOADER_THIRD_PARTY = frozenset({"yaml", "msgspec"})


@dataclass
class ImportGraph:
    """Modules of a package and the imports between them (``edges[a][b]``: the kinds of a -> b)."""

    modules: dict[str, Path]
    edges: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)  # module -> top-level names outside

    def successors(self, module: str, kinds: frozenset[str]) -> list[str]:
        return sorted(t for t, ks in self.edges.get(module, {}).items() if ks & kinds)

    def cycles(self, kinds: frozenset[str]) -> list[list[str]]:
        """The strongly connected components of more than one module (or a module importing itself)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def connect(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in self.successors(v, kinds):
                if w not in index:
                    connect(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1 or v in self.successors(v, kinds):
                    found.append(sorted(component))

        for module in sorted(self.modules):
            if module not in index:
                connect(module)
        return found

    def path(self, start: str, goal: str, kinds: frozenset[str]) -> list[str]:
        """One shortest import chain from ``start`` to ``goal`` (to show a cycle)."""
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier:
            following = []
            for v in frontier:
                for w in self.successors(v, kinds):
                    if w == goal:
                        chain = [w, v]
                        while chain[-1] != start:
                            chain.append(previous[chain[-1]])
                        return chain[::-1]
                    if w not in previous:
                        previous[w] = v
                        following.append(w)
            frontier = following
        return []


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def build_graph(root: Path) -> ImportGraph:
    """The import graph of the package in folder ``root``, read with :mod:`ast` (nothing is imported)."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    graph = ImportGraph(modules)
    top = root.name

    def package_of(module: str) -> str:
        return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]

    def add(module: str, target: str, kind: str) -> None:
        if target.split(".")[0] != top:
            graph.external.setdefault(module, set()).add(target.split(".")[0])
            return
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target in modules and target != module:
            graph.edges.setdefault(module, {}).setdefault(target, set()).add(kind)

    def visit(module: str, node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(module, ast.Module(body=[stmt], type_ignores=[]), TYPING)
                for stmt in child.orelse:
                    visit(module, ast.Module(body=[stmt], type_ignores=[]), kind)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(module, alias.name, kind)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package_of(module).split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    add(module, full if full in modules else base, kind)
            else:
                visit(module, child, kind)

    for module, path in modules.items():
        visit(module, ast.parse(path.read_text(encoding="utf-8"), str(path)), RUNTIME)
    return graph


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_graph(PACKAGE)


def test_no_import_cycle_among_losstunes_modules(graph: ImportGraph) -> None:
    kinds = frozenset({RUNTIME})
    chains = []
    for component in graph.cycles(kinds):
        first = component[0]
        back = next(w for w in graph.successors(first, kinds) if w in component)
        chains.append(" -> ".join([first, *graph.path(back, first, kinds)]))
    assert chains == [], "import cycles (function-local imports included):\n" + "\n".join(chains)


def test_the_loader_imports_nothing_above_it(graph: ImportGraph) -> None:
    outside = sorted(
        f"{module} -> {target} ({', '.join(sorted(kinds))})"
        for module, targets in graph.edges.items()
        if module == LOADER or module.startswith(LOADER + ".")
        for target, kinds in targets.items()
        if not any(target == allowed or target.startswith(allowed + ".") for allowed in LOADER_MAY_IMPORT)
    )
    assert outside == [], "the loader imports from above the trust boundary:\n" + "\n".join(outside)


def test_the_loader_uses_only_the_standard_library_pyyaml_and_msgspec(graph: ImportGraph) -> None:
    used = {
        f"{module}: {name}"
        for module, names in graph.external.items()
        if module == LOADER or module.startswith(LOADER + ".")
        for name in names
        if name not in sys.stdlib_module_names and name not in LOADER_THIRD_PARTY
    }
    assert sorted(used) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def test_the_graph_sees_imports_in_functions_and_typing_imports_apart(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "from pkg.a import f\n",
            "a.py": "def f():\n    from pkg.sub import b\n",
            "sub/__init__.py": "",
            "sub/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\nimport os\n",
            "c.py": "from . import a\nfrom .sub.b import x\n",
        },
    )
    g = build_graph(root)
    assert g.edges["pkg.a"] == {"pkg.sub.b": {RUNTIME}}
    assert g.edges["pkg.sub.b"] == {"pkg.c": {TYPING}}
    assert g.edges["pkg.c"] == {"pkg.a": {RUNTIME}, "pkg.sub.b": {RUNTIME}}
    assert g.external["pkg.sub.b"] == {"typing", "os"}
    assert g.cycles(frozenset({RUNTIME})) == []
    assert g.cycles(frozenset({RUNTIME, TYPING})) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert g.path("pkg.c", "pkg.c", frozenset({RUNTIME, TYPING})) == ["pkg.c", "pkg.sub.b", "pkg.c"]


def test_a_cycle_hidden_in_a_function_is_a_cycle(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "def g():\n    import pkg.a.x\n"},
    )
    assert build_graph(root).cycles(frozenset({RUNTIME})) == [["pkg.a", "pkg.b"]]

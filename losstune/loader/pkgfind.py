"""Find installed packages and modules as Python's import system would, reading only files.

``importlib.util.find_spec("pkg.sub")`` imports ``pkg`` (running its ``__init__.py``) to learn
where ``sub`` is, and asks every finder installed in the interpreter. This module answers the same
question from the file system alone: the path entries (``sys.path``, plus the folders that ``.pth``
files in the site folders add), searched as the standard path finder searches them (packages, then
modules, then namespace portions), then the editable installs those ``.pth`` files set up. Lines of
a ``.pth`` file that start with ``import`` are never run: the hook module they name is read as text
(setuptools' ``__editable___*_finder.py`` for its ``MAPPING`` and ``NAMESPACES``, or an
``editables`` redirector's ``map_module(name, file)`` calls). Nothing found is ever imported.

:meth:`PackageFinder.installed_path` is mmengine's ``get_installed_path``: the folder of an
installed distribution of that name first, as ``pkg_resources`` reports it, and the folder of the
module otherwise.

Not followed: other import hooks (zip archives, custom finders and path hooks) and ``__path__``
changes an ``__init__.py`` makes when it runs.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import re
import site
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import PurePath

from msgspec import Struct, field

from losstune.errors import LosstuneError
from losstune.loader import fileread, pysource

# The order of the standard path finder: extension modules, then source, then bytecode.
_SUFFIXES = (
    *importlib.machinery.EXTENSION_SUFFIXES,
    *importlib.machinery.SOURCE_SUFFIXES,
    *importlib.machinery.BYTECODE_SUFFIXES,
)
_MAX_READ = 1 << 20  # metadata, .pth and hook files are small; anything bigger is not one


class NotFound(LosstuneError):
    """A name that could not be located; the message says why, as a sentence for a diagnostic."""


class Found(Struct, frozen=True):
    """Where a module is: ``origin`` is its file (``"built-in"`` or ``"frozen"`` for modules inside
    the interpreter, ``None`` for a namespace package); ``locations`` are the folders its
    sub-modules are searched in (empty for a module that is not a package)."""

    name: str
    origin: str | None
    locations: tuple[str, ...] = ()

    @property
    def is_package(self) -> bool:
        """Whether it can hold sub-modules."""
        return bool(self.locations)

    @property
    def where(self) -> str:
        """Its place, for messages."""
        if self.origin is None:
            return "a namespace package in " + ", ".join(f"`{p}`" for p in self.locations if os.path.isabs(p))
        if self.origin in ("built-in", "frozen"):
            return f"{self.origin} in the Python interpreter"
        return f"`{self.origin}`"


class _Hook(Struct, frozen=True):
    """An editable install's import hook, read from its source.

    ``folders`` (setuptools): a top-level name and the folder, or the module path without its
    suffix, that the name imports from; children of those names are found in that folder.
    ``files`` (editables): a top-level name and the file it imports. ``namespaces``: namespace
    packages and their folders, reached through ``placeholder`` in a path."""

    folders: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    namespaces: dict[str, list[str]] = field(default_factory=dict)
    placeholder: str | None = None


def default_site_dirs(path: Sequence[str]) -> list[str]:
    """The site folders whose ``.pth`` files the interpreter processed at start-up: those of
    ``site`` that are on ``path``, and any other ``site-packages`` or ``dist-packages`` folder there."""
    if sys.flags.no_site:
        return []
    candidates = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    candidates += [p for p in path if os.path.basename(os.path.normpath(p)) in ("site-packages", "dist-packages")]
    on_path = {_key(p) for p in path if p}
    return list(dict.fromkeys(p for p in candidates if _key(p) in on_path))


class PackageFinder:
    """Locates modules without importing them.

    ``path`` stands for ``sys.path`` and ``site_dirs`` for the site folders whose ``.pth`` files
    count (by default those of this interpreter). Directory listings are cached for the life of the
    finder, so make a new one to see later changes on disk."""

    def __init__(self, path: Sequence[str] | None = None, site_dirs: Sequence[str] | None = None) -> None:
        base = list(sys.path if path is None else path)
        try:
            cwd = os.getcwd()
        except OSError:  # the current folder was removed: the import system skips it too
            cwd = ""
        self._base = [cwd if p == "" else p for p in base if p != "" or cwd]
        self._path = base
        self._given_site_dirs = None if site_dirs is None else list(site_dirs)
        self._listings: dict[str, frozenset[str]] = {}

    # -- what the path holds -------------------------------------------------------------------

    @cached_property
    def _site_dirs(self) -> list[str]:
        """The site folders whose ``.pth`` files count, found when a search first needs them."""
        return default_site_dirs(self._path) if self._given_site_dirs is None else self._given_site_dirs

    @cached_property
    def _setup(self) -> tuple[list[str], list[_Hook]]:
        """The path entries, with those ``.pth`` files add, and the editable hooks, in the order the
        interpreter appends them (site folder by site folder, ``.pth`` files sorted by name)."""
        entries = list(self._base)
        known = {_key(p) for p in entries}
        hooks: list[_Hook] = []
        for site_dir in self._site_dirs:
            for name in sorted(self.listing(site_dir)):
                if not name.endswith(".pth") or name.startswith("."):
                    continue
                text = _read_small(os.path.join(site_dir, name))
                for line in (text or "").splitlines():
                    if line.startswith("#") or not line.strip():
                        continue
                    if line.startswith(("import ", "import\t")):
                        hooks += _hooks_of_line(line, site_dir)
                        continue
                    folder = os.path.abspath(os.path.join(site_dir, line.rstrip()))
                    if _key(folder) not in known and os.path.exists(folder):
                        known.add(_key(folder))
                        entries.append(folder)
        for hook in hooks:
            if hook.namespaces and hook.placeholder and hook.placeholder not in entries:
                entries.append(hook.placeholder)
        return entries, hooks

    def listing(self, folder: str) -> frozenset[str]:
        """The names in ``folder`` (none where it cannot be listed), listed once for the life of the finder."""
        cached = self._listings.get(folder)
        if cached is None:
            try:
                cached = frozenset(os.listdir(folder))
            except (OSError, ValueError):
                cached = frozenset()
            self._listings[folder] = cached
        return cached

    def maps(self, top: str) -> bool:
        """Whether an editable install's import hook maps the top-level package ``top`` or a
        namespace package in it: its modules can then be found outside its folders."""
        return any(
            n == top or n.startswith(top + ".")
            for hook in self._setup[1]
            for n in (*hook.folders, *hook.files, *hook.namespaces)
        )

    # -- the import system's search ------------------------------------------------------------

    def find(self, name: str) -> Found:
        """The module ``name`` (dotted for sub-modules), located as ``import name`` would locate it.
        Raises :class:`NotFound` with the reason."""
        parts = name.split(".")
        if not all(p.isidentifier() for p in parts):
            raise NotFound(f"`{name}` is not a Python module name")
        entries, _ = self._setup
        found = self._find_one(parts[0], None, entries)
        if found is None:
            raise NotFound(f"`{parts[0]}` is not installed or on the Python path")
        for i in range(1, len(parts)):
            if not found.is_package:
                raise NotFound(f"`{found.name}` is a module ({found.where}), not a package, so it has no `{parts[i]}`")
            sub = self._find_one(".".join(parts[: i + 1]), found.name, list(found.locations))
            if sub is None:
                raise NotFound(f"the package `{found.name}` ({found.where}) has no sub-package or module `{parts[i]}`")
            found = sub
        return found

    def _find_one(self, fullname: str, parent: str | None, locations: list[str]) -> Found | None:
        if parent is None and fullname in sys.builtin_module_names:
            return Found(fullname, "built-in")
        if importlib.machinery.FrozenImporter.find_spec(fullname) is not None:
            return Found(fullname, "frozen")
        found = self._search(fullname, locations)
        if isinstance(found, Found):
            return found
        if found:
            return Found(fullname, None, tuple(found))
        for hook in self._setup[1]:
            hooked: Found | list[str] | None = _from_hook(hook, fullname, parent)
            if hooked is None and parent is not None and parent in hook.folders:
                # setuptools' finder: a child of a mapped package, in the mapped folder.
                hooked = self._search(fullname, [hook.folders[parent]])
            if isinstance(hooked, Found):
                return hooked
            if hooked:
                return Found(fullname, None, tuple(hooked))
        return None

    def _search(self, fullname: str, locations: list[str]) -> Found | list[str]:
        """The standard path finder over ``locations``: the first package or module, or else the
        namespace portions found."""
        tail = fullname.rpartition(".")[2]
        portions: list[str] = []
        for location in locations:
            hook = self._placeholder(location)
            if hook is not None:
                if fullname in hook.namespaces:
                    # _EditableNamespaceFinder._paths: the placeholder stays, for nested namespaces.
                    paths = hook.namespaces[fullname] or ([hook.folders[fullname]] if fullname in hook.folders else [])
                    portions += [*paths, location]
                continue
            names = self.listing(location)
            folder = os.path.join(location, tail)
            portion = None
            if tail in names and os.path.isdir(folder):
                inner = self.listing(folder)
                for suffix in _SUFFIXES:
                    init = os.path.join(folder, "__init__" + suffix)
                    if "__init__" + suffix in inner and os.path.isfile(init):
                        return Found(fullname, init, (folder,))
                portion = folder
            for suffix in _SUFFIXES:
                if tail + suffix in names and os.path.isfile(folder + suffix):
                    return Found(fullname, folder + suffix)
            if portion is not None:
                portions.append(portion)
        return portions

    def _placeholder(self, location: str) -> _Hook | None:
        for hook in self._setup[1]:
            if hook.placeholder is not None and hook.placeholder == location:
                return hook
        return None

    # -- mmengine's lookup ---------------------------------------------------------------------

    def installed_path(self, name: str) -> str:
        """mmengine's ``get_installed_path``: the folder of the package ``name``, taken from an
        installed distribution of that name when there is one, else from where the module is.
        A dotted name is located module by module. Raises :class:`NotFound` with the reason."""
        if "." not in name:
            dist = self._distribution(name)
            if dist is not None:
                location, top_level = dist
                for candidate in (name, top_level):
                    if candidate and os.path.exists(os.path.join(location, candidate)):
                        return os.path.join(location, candidate)
                # An editable install records no folder here (mmengine fails); the module's own
                # place is where the configs are.
        found = self.find(name)
        if found.origin is None:
            raise NotFound(
                f"`{name}` is a namespace package (a folder without `__init__.py`), "
                "and mmengine cannot locate configs in one"
            )
        if found.origin in ("built-in", "frozen"):
            raise NotFound(f"`{name}` is built into the Python interpreter and holds no configs")
        return os.path.dirname(found.origin)

    def _distribution(self, name: str) -> tuple[str, str | None] | None:
        """The first distribution called ``name`` on the path, as ``pkg_resources`` finds it: its
        location and the first name in its ``top_level.txt``."""
        wanted = _normalize(name)
        for entry in self._setup[0]:
            for item in sorted(self.listing(entry)):
                stem, dot, kind = item.rpartition(".")
                if not dot or kind not in ("dist-info", "egg-info", "egg-link"):
                    continue
                if _normalize(stem.split("-")[0]) != wanted:
                    continue
                meta = os.path.join(entry, item)
                location = entry
                if kind == "egg-link":
                    link = (_read_small(meta) or "").splitlines()
                    if not link or not link[0].strip():
                        continue
                    location = os.path.abspath(os.path.join(entry, link[0].strip()))
                    meta = next(
                        (
                            os.path.join(location, i)
                            for i in sorted(self.listing(location))
                            if i.endswith(".egg-info") and _normalize(i[: -len(".egg-info")].split("-")[0]) == wanted
                        ),
                        "",
                    )
                top = (_read_small(os.path.join(meta, "top_level.txt")) or "").split("\n")[0].strip() if meta else ""
                return location, top or None
        return None


def _from_hook(hook: _Hook, fullname: str, parent: str | None) -> Found | None:
    """What an editable hook's finder returns for a name it maps itself."""
    if fullname in hook.folders:
        # setuptools' _EditableFinder._find_spec: the package's __init__.py, else a module file.
        target = hook.folders[fullname]
        init = os.path.join(target, "__init__.py")
        if os.path.exists(init):
            return Found(fullname, init, (target,))
        try:
            candidates = [str(PurePath(target).with_suffix(s)) for s in importlib.machinery.all_suffixes()]
        except ValueError:
            candidates = []
        for candidate in candidates:
            if os.path.exists(candidate):
                return Found(fullname, candidate)
        return None
    if parent is None and fullname in hook.files:
        file = hook.files[fullname]
        if not os.path.exists(file):
            return None
        is_package = os.path.basename(file).partition(".")[0] == "__init__"
        return Found(fullname, file, (os.path.dirname(file),) if is_package else ())
    return None


def _hooks_of_line(line: str, site_dir: str) -> list[_Hook]:
    """The hooks an ``import`` line of a ``.pth`` file would install, read from the source of the
    modules it imports (found beside the ``.pth`` file); the line itself is never run."""
    try:
        tree = pysource.parse_quietly(line)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    hooks = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import):
            continue
        for alias in node.names:
            if "." in alias.name:
                continue
            text = _read_small(os.path.join(site_dir, alias.name + ".py"))
            hook = _read_hook(text) if text is not None else None
            if hook is not None:
                hooks.append(hook)
    return hooks


def _read_hook(text: str) -> _Hook | None:
    """setuptools' ``MAPPING``/``NAMESPACES``/``PATH_PLACEHOLDER``, or ``editables``'
    ``map_module(name, file)`` calls, as literals in the hook's source."""
    try:
        tree = pysource.parse_quietly(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    values: dict[str, object] = {}
    files: dict[str, str] = {}
    for stmt in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and value is not None:
            literal = _literal(value)
            if literal is not None:
                values[target.id] = literal
            continue
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "map_module"
            and len(stmt.value.args) == 2
            and not stmt.value.keywords
        ):
            args = [_literal(a) for a in stmt.value.args]
            if isinstance(args[0], str) and isinstance(args[1], str):
                files[args[0]] = args[1]
    folders = values.get("MAPPING")
    namespaces = values.get("NAMESPACES", {})
    placeholder = values.get("PATH_PLACEHOLDER")
    if not (
        isinstance(folders, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in folders.items())
        and isinstance(namespaces, dict)
        and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(p, str) for p in v)
            for k, v in namespaces.items()
        )
    ):
        return _Hook(files=files) if files else None
    return _Hook(
        folders=folders,
        files=files,
        namespaces=namespaces,
        placeholder=placeholder if isinstance(placeholder, str) else None,
    )


def _literal(node: ast.expr) -> object:
    """A literal value, or a sum of string literals (setuptools writes ``'...' + ".__path_hook__"``);
    ``None`` for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        return left + right if isinstance(left, str) and isinstance(right, str) else None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None


def _read_small(path: str) -> str | None:
    """The text of a small regular file; ``None`` for anything else (a folder, a pipe that would
    block, a file too big to be metadata, unreadable bytes)."""
    try:
        data = fileread.read_bytes(path, _MAX_READ)
    except fileread.ReadError:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def is_builtin_module(name: str, packages: PackageFinder | None = None) -> bool:
    """mmengine's ``_is_builtin_module``: a module counts as built in when it is compiled into
    the interpreter or lives under the interpreter's prefix outside site-packages. The module is
    located on disk, never imported."""
    if name.startswith("."):
        return False
    if name.startswith("mmengine.config"):
        return True
    if name in sys.builtin_module_names:
        return True
    try:
        origin = (packages or PackageFinder()).find(name.split(".")[0]).origin
    except NotFound:
        return False
    if origin is None:
        return False
    origin = os.path.abspath(origin)
    root = os.path.dirname(os.path.dirname(sys.executable))
    if "site-package" in origin or "dist-package" in origin:
        return False
    return origin.startswith((root, "/usr/lib/python"))

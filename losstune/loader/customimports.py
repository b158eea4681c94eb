"""The classes a config's ``custom_imports`` registers, read from the source of its modules.

mmengine imports each module ``custom_imports = dict(imports=[...])`` names, and what those imports
register (``@MODELS.register_module()``) becomes buildable from the config. losstune never imports
them: each module is located on the file system as :mod:`~losstune.loader.pkgfind` locates
packages (on ``sys.path``, then the current folder, then the folders above the config), read as
text within the file size limit, and parsed (:mod:`~losstune.loader.registrations`). The imports a
module makes of its own package's modules (``from .focal import X``, ``from . import losses``,
``import pkg.sub``) are followed, as far as :data:`~losstune.loader.limits.MAX_CUSTOM_MODULES`
modules and :data:`~losstune.loader.limits.MAX_CUSTOM_IMPORT_DEPTH` imports deep; imports of
other packages are not, except into the other modules ``custom_imports`` names.

The constructor of each registered class is taken from its ``__init__``, or from its bases' where
it has none (or passes its ``**kwargs`` on to ``super().__init__``) and they are defined in the
modules read (or are ``torch.nn.Module`` or mmengine's ``BaseModule``). Where that cannot be known
statically, the class is taken to accept any parameter.
"""

from __future__ import annotations

import os
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence

from msgspec import Struct

from losstune.loader import fileread, gcpause, pysource
from losstune.loader.filecache import RACY_NS, Stamp
from losstune.loader.limits import MAX_CUSTOM_IMPORT_DEPTH, MAX_CUSTOM_MODULES
from losstune.loader.pkgfind import Found, NotFound, PackageFinder
from losstune.loader.registrations import ClassInfo, ModuleFacts, Param, Registration, read_module

# Constructors of bases outside the modules read that custom losses commonly derive from.
_KNOWN_BASES: dict[str, tuple[Param, ...]] = {
    "torch.nn.Module": (),
    "torch.nn.modules.module.Module": (),
    "mmengine.model.BaseModule": (Param("init_cfg", True, True, None, "None"),),
    "mmengine.model.base_module.BaseModule": (Param("init_cfg", True, True, None, "None"),),
    "mmcv.runner.BaseModule": (Param("init_cfg", True, True, None, "None"),),
}
_MAX_BASES = 32  # how many classes deep a chain of bases is followed
_MAX_KEPT = 4096


class CustomClass(Struct, frozen=True):
    """A class registered by a module ``custom_imports`` names.

    ``names`` are the names it is registered under, in the registry ``registry`` (``MODELS``) of
    the scope ``scope`` (``mmdet``); ``force`` when it replaces a class of the same name. ``params``
    are the keyword parameters its constructor takes; beyond them, ``var_keyword`` says that it
    takes others and ignores them (``**kwargs`` that are never used), ``accepts_any`` that any
    other may be used (``**kwargs`` used, or a constructor that cannot be read)."""

    class_name: str
    names: tuple[str, ...]
    scope: str
    registry: str
    force: bool
    module: str
    file: str
    line: int
    bases: tuple[str, ...]
    params: tuple[Param, ...]
    var_keyword: bool = False
    accepts_any: bool = False


class UnreadModule(Struct, frozen=True):
    """A module ``custom_imports`` names (or one it imports) that could not be read: ``reason``
    completes a sentence about it. ``module`` is empty where ``custom_imports`` itself names no
    module."""

    module: str
    reason: str
    file: str | None = None


class CustomModules(Struct, frozen=True):
    """What reading a config's ``custom_imports`` found."""

    classes: tuple[CustomClass, ...] = ()
    unread: tuple[UnreadModule, ...] = ()


class _Module(Struct, frozen=True):
    name: str
    file: str
    facts: ModuleFacts


class _Constructor(Struct, frozen=True):
    params: tuple[Param, ...]
    var_keyword: bool = False
    accepts_any: bool = False


_ANY = _Constructor((), accepts_any=True)


def read_custom_imports(value: object, config_path: str, path: Sequence[str] | None = None) -> CustomModules:
    """The classes registered by the modules a ``custom_imports`` value names (as the resolved
    config holds it), for the config at ``config_path``; ``path`` stands for ``sys.path``."""
    names, unread = module_names(value)
    walk = _Walk(PackageFinder(search_path(sys.path if path is None else path, config_path)), names)
    walk.run()
    return CustomModules(walk.classes(), (*unread, *walk.unread))


def search_path(path: Sequence[str], config_path: str) -> list[str]:
    """Where the modules are searched for: ``path``, the current folder, then the folders above
    the config, each folder once."""
    try:
        cwd = os.getcwd()
    except OSError:  # the current folder was removed: it is not searched
        cwd = ""
    folder = os.path.dirname(os.path.join(cwd, config_path))
    above = [folder]
    while os.path.dirname(above[-1]) != above[-1]:
        above.append(os.path.dirname(above[-1]))
    entries = [os.path.normpath(os.path.join(cwd, p)) for p in (*path, cwd, *above) if p or cwd]
    return list(dict.fromkeys(entries))


def module_names(value: object) -> tuple[list[str], list[UnreadModule]]:
    """The module names of a ``custom_imports`` value (a dict with ``imports``: a list of names,
    or one name), and a note for each part that is not one."""
    if not isinstance(value, Mapping):
        return [], [UnreadModule("", f"`custom_imports` is {value!r}, not a dict with `imports`")]
    if "imports" not in value:
        return [], [UnreadModule("", "`custom_imports` has no `imports`")]
    imports = value["imports"]
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, (list, tuple)):
        return [], [UnreadModule("", f"`custom_imports.imports` is {imports!r}, not a list of module names")]
    names = [n for n in imports if isinstance(n, str)]
    bad = [
        UnreadModule("", f"`custom_imports.imports` holds {n!r}, not a module name")
        for n in imports
        if not isinstance(n, str)
    ]
    return list(dict.fromkeys(names)), bad


def root_of(name: str, found: Found) -> str:
    """The package whose modules the walk follows from the named module ``name`` (``found``
    there): the module itself where it is a package or at the top level, else its package."""
    return name if found.is_package or "." not in name else name.rpartition(".")[0]


class _Walk:
    """The modules reached from those named, read once each, in the order they are met."""

    def __init__(self, finder: PackageFinder, named: list[str]) -> None:
        self.finder = finder
        self.named = named
        self.roots: list[str] = []
        self.modules: dict[str, _Module] = {}
        self.unread: list[UnreadModule] = []
        self._seen: set[str] = set()
        self._files: set[str] = set()
        self._located: dict[str, Found | NotFound] = {}

    def run(self) -> None:
        queue: deque[tuple[str, int]] = deque()
        for name in self.named:
            found = self._find(name)
            if found is not None:
                self.roots.append(root_of(name, found))
                queue.append((name, 0))
        stopped = False
        while queue:
            name, depth = queue.popleft()
            if name in self._seen:
                continue
            self._seen.add(name)
            if len(self.modules) >= MAX_CUSTOM_MODULES:
                if not stopped:
                    stopped = True
                    self.unread.append(
                        UnreadModule(
                            name,
                            f"it and the modules after it are not read: more than {MAX_CUSTOM_MODULES} modules are imported",
                        )
                    )
                continue
            module = self._load(name)
            if module is None or depth >= MAX_CUSTOM_IMPORT_DEPTH:
                continue
            for imp in module.facts.imports:
                if self._inside(imp.module):
                    queue.append((imp.module, depth + 1))
                for sub in imp.names:
                    full = f"{imp.module}.{sub}"
                    if sub != "*" and self._inside(full) and self._probe(full):
                        queue.append((full, depth + 1))

    def _inside(self, name: str) -> bool:
        return name in self.named or any(name == r or name.startswith(r + ".") for r in self.roots)

    def _locate(self, name: str) -> Found:
        """``finder.find``, once for each name."""
        found = self._located.get(name)
        if found is None:
            try:
                found = self.finder.find(name)
            except NotFound as e:
                found = e
            self._located[name] = found
        if isinstance(found, NotFound):
            raise found
        return found

    def _find(self, name: str) -> Found | None:
        try:
            return self._locate(name)
        except NotFound as e:
            self.unread.append(UnreadModule(name, self._not_a_file(name) or str(e)))
            return None

    def _probe(self, name: str) -> bool:
        """Whether ``name`` (``from pkg import name``) is a module, not a name defined in ``pkg``;
        where it is a file that cannot be read (a pipe, a loop of links), that is noted."""
        parent, _, tail = name.rpartition(".")
        try:
            locations = self._locate(parent).locations
        except NotFound:
            return False
        if not any(e.partition(".")[0] == tail for loc in locations for e in self.finder.listing(loc)):
            return False  # nothing of that name beside the package's modules: a name defined in it
        try:
            self._locate(name)
        except NotFound:
            reason = self._not_a_file(name)
            if reason is not None:
                self._seen.add(name)
                self.unread.append(UnreadModule(name, reason))
            return False
        return True

    def _not_a_file(self, name: str) -> str | None:
        """Why a module that is not found is not: a file of its name that is not a regular one."""
        parent, _, tail = name.rpartition(".")
        try:
            locations = self._locate(parent).locations if parent else ()
        except NotFound:
            return None
        for location in locations:
            for candidate in (os.path.join(location, tail), os.path.join(location, tail + ".py")):
                try:
                    fileread.check(candidate)
                except fileread.ReadError as e:
                    if e.problem not in (fileread.Problem.MISSING, fileread.Problem.DIRECTORY):
                        return f"`{candidate}` {e.reason}"
        return None

    def _load(self, name: str) -> _Module | None:
        found = self._find(name)
        if found is None or found.origin is None or found.origin in ("built-in", "frozen"):
            return None  # a namespace package or a built-in module: no source of its own
        file = found.origin
        if not file.endswith(".py"):
            self.unread.append(UnreadModule(name, f"it is compiled (`{file}`), so it has no source to read", file))
            return None
        real = os.path.realpath(file)
        if real in self._files:
            return None
        self._files.add(real)
        facts = _facts(file, name, found.is_package)
        if isinstance(facts, str):
            self.unread.append(UnreadModule(name, facts, file))
            return None
        module = _Module(name, file, facts)
        self.modules[name] = module
        return module

    # -- what the modules register -------------------------------------------------------------

    def classes(self) -> tuple[CustomClass, ...]:
        out: list[CustomClass] = []
        for module in self.modules.values():
            for reg in module.facts.registrations:
                if reg.names:
                    out.append(self._registered(module, reg))
        return tuple(out)

    def _registered(self, module: _Module, reg: Registration) -> CustomClass:
        found = self._class(module, reg.target, 0)
        if found is None:
            where, info, ctor = module, ClassInfo(reg.target, reg.line, (), None), _ANY
        else:
            where, info = found
            ctor = self._constructor(where, info, set())
        return CustomClass(
            class_name=info.name,
            names=reg.names,
            scope=reg.registry.scope,
            registry=reg.registry.variable,
            force=reg.force,
            module=where.name,
            file=where.file,
            line=info.line,
            bases=info.bases,
            params=ctor.params,
            var_keyword=ctor.var_keyword,
            accepts_any=ctor.accepts_any,
        )

    def _class(self, module: _Module, name: str, depth: int) -> tuple[_Module, ClassInfo] | None:
        """The class ``name`` stands for in ``module``: defined there, imported from a module
        read, or taken in by a star import of one."""
        if depth > _MAX_BASES:
            return None
        if "." in name:
            head, _, attr = name.rpartition(".")
            target = self._qualified(module, head)
            other = self.modules.get(target) if target else None
            return self._class(other, attr, depth + 1) if other is not None else None
        if name in module.facts.classes:
            return module, module.facts.classes[name]
        binding = module.facts.bindings.get(name)
        if binding is not None:
            other = self.modules.get(binding.module)
            if binding.attribute is None or other is None:
                return None
            return self._class(other, binding.attribute, depth + 1)
        for imp in module.facts.imports:
            other = self.modules.get(imp.module)
            if "*" in imp.names and other is not None and other is not module:
                found = self._class(other, name, depth + 1)
                if found is not None:
                    return found
        return None

    def _qualified(self, module: _Module, dotted: str) -> str | None:
        """The full name of a dotted name of ``module`` (``nn.Module`` -> ``torch.nn.Module``)."""
        head, _, rest = dotted.partition(".")
        binding = module.facts.bindings.get(head)
        if binding is None:
            return None
        full = binding.module if binding.attribute is None else f"{binding.module}.{binding.attribute}"
        return f"{full}.{rest}" if rest else full

    def _constructor(self, module: _Module, info: ClassInfo, seen: set[tuple[str, str]]) -> _Constructor:
        if info.opaque:
            return _ANY
        own = info.init
        if own is None:
            inherited = self._inherited(module, info, seen)
            return inherited if inherited is not None else _Constructor(())
        if own.kwargs == "used":
            return _Constructor(own.params, accepts_any=True)
        if own.kwargs == "ignored":
            return _Constructor(own.params, var_keyword=True)
        if own.kwargs == "forwarded":
            base = self._inherited(module, info, seen) or _Constructor(())
            names = {p.name for p in own.params}
            extra = tuple(p for p in base.params if p.name not in names)
            return _Constructor(own.params + extra, base.var_keyword, base.accepts_any)
        return _Constructor(own.params)

    def _inherited(self, module: _Module, info: ClassInfo, seen: set[tuple[str, str]]) -> _Constructor | None:
        """The constructor the first base that has one gives, ``None`` where no base has one."""
        key = (module.name, info.name)
        if key in seen or len(seen) > _MAX_BASES:
            return _ANY
        seen = seen | {key}
        for base in info.bases:
            if base == "object":
                continue
            known = _KNOWN_BASES.get(self._qualified(module, base) or "")
            if known is not None:
                return _Constructor(known)
            found = self._class(module, base, 0)
            if found is None:
                return _ANY
            other, base_info = found
            if base_info.init is None and not base_info.opaque:
                inherited = self._inherited(other, base_info, seen)
                if inherited is None:
                    continue  # this base defines none either: the next one's is used
                return inherited
            return self._constructor(other, base_info, seen)
        return None


_kept: OrderedDict[tuple[str, str, bool, int], tuple[Stamp, ModuleFacts | str]] = OrderedDict()


def _facts(file: str, module: str, is_package: bool) -> ModuleFacts | str:
    """The facts of one module file, or why it cannot be read. Kept while the file is unchanged."""
    limit = fileread.current_limit()
    key = (os.path.abspath(file), module, is_package, limit)
    stamp = Stamp.of(file)
    kept = _kept.get(key)
    if kept is not None and stamp is not None and kept[0] == stamp:
        _kept.move_to_end(key)
        return kept[1]
    started = time.time_ns()
    try:
        text = fileread.read_text(file).removeprefix("\ufeff")
        with gcpause.paused():  # a module's syntax tree holds no cycle (see gcpause)
            out: ModuleFacts | str = read_module(text, module, is_package, file)
    except fileread.ReadError as e:
        out = f"it {e.reason}"
    except SyntaxError as e:
        out = f"it is not valid Python: line {e.lineno or 1}: {e.msg}"
    except (RecursionError, MemoryError):
        out = "it nests too deeply to be parsed"
    except pysource.PARSE_ERRORS as e:
        out = f"it is not valid Python: {e}"
    if stamp is not None and started - max(stamp.mtime_ns, stamp.ctime_ns) > RACY_NS:
        _kept[key] = (stamp, out)
        if len(_kept) > _MAX_KEPT:
            _kept.popitem(last=False)
    return out

"""Whether the modules a config's ``custom_imports`` can reach could register a name, told from
their text alone, so that they are parsed only where an answer depends on them.

Reading those modules (:mod:`~losstune.loader.customimports`) parses every module reached from
the ones named: for the configs of MMDetection that name ``mmpretrain.models``, 227 modules, a
quarter of a lint of MMDetection's whole tree. Most of what a lint asks of them is whether they
register a loss or sampler under a name MMDetection has (``FocalLoss`` in ``mmdet``), and no module
of ``mmpretrain.models`` could. :meth:`ModuleTexts.may_register` answers that from the files'
texts, read but not parsed; where it says no, what the modules register leaves the answer as it is.

The answer errs only on the side of yes. Every module the walk of
:mod:`~losstune.loader.customimports` can reach is a ``.py`` file in the folders of the packages
it is confined to (the named modules' packages, as :func:`~losstune.loader.customimports.root_of`
gives them), found by joining names to those folders, so every such file there is looked at
(folders followed through links, each once). A file registers a class under ``name`` in the
registry scope ``scope`` only if (:mod:`~losstune.loader.registrations` reads nothing else):

* it uses an attribute ``register_module`` (the names in it as the parser reads them, NFKC);
* ``scope`` is the top-level package of its module, or ``scope`` is written in it (the import of
  another package's registry), or it makes a ``Registry`` (whose ``scope=`` can be anything);
* ``name`` is written in it (the class's name, or the string given), or a ``register_module(...)``
  has arguments (a string written with escapes or in pieces names what is not written as such).

Where the files cannot be bounded that way (an editable install's import hook maps one of the
packages, a folder cannot be listed, a file cannot be read, more than :data:`MAX_SCANNED` files),
:func:`scan` gives ``None``, and the modules are read.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence

from msgspec import Struct

from losstune.loader import fileread
from losstune.loader.customimports import module_names, root_of, search_path
from losstune.loader.limits import MAX_CUSTOM_MODULES
from losstune.loader.pkgfind import NotFound, PackageFinder
from losstune.loader.registrations import top_package

MAX_SCANNED = 4 * MAX_CUSTOM_MODULES
"""The most files looked at for one ``custom_imports``; beyond, the modules are read instead."""

_ARGUMENTS = re.compile(r"\s*\(\s*[^\s)]")  # after `register_module`: a call with arguments


class _Registering(Struct, frozen=True):
    """A file that uses ``register_module``: its text (NFKC), the top-level packages its module
    can be named under, whether it makes a registry, and whether it passes arguments."""

    text: str
    tops: frozenset[str]
    any_scope: bool
    any_name: bool

    def may_register(self, scope: str, name: str | None) -> bool:
        in_scope = scope in self.tops or self.any_scope or scope in self.text
        return in_scope and (name is None or self.any_name or name in self.text)


class ModuleTexts(Struct, frozen=True):
    """The files a ``custom_imports`` value can reach that use ``register_module``."""

    registering: tuple[_Registering, ...] = ()

    def may_register(self, scope: str, name: str | None = None) -> bool:
        """Whether a module reached could register a class under ``name`` (any name where
        ``None``) in the registry scope ``scope``; no means surely not."""
        return any(f.may_register(scope, name) for f in self.registering)


def scan(value: object, config_path: str, path: Sequence[str] | None = None) -> ModuleTexts | None:
    """The texts of the modules the ``custom_imports`` value ``value`` (of the config at
    ``config_path``; ``path`` stands for ``sys.path``) can reach, or ``None`` where they cannot be
    bounded (see the module's docstring)."""
    names, _ = module_names(value)
    finder = PackageFinder(search_path(sys.path if path is None else path, config_path))
    tops: dict[str, set[str]] = {}  # a folder or a module's file -> the top-level packages it is of
    for name in names:
        top = top_package(name)
        if finder.maps(top):
            return None  # an editable install's hook can put its modules anywhere
        try:
            found = finder.find(name)
            root = root_of(name, found)
            package = finder.find(root) if root != name else found
        except NotFound:
            continue  # registers nothing: the walk notes it, and reads nothing of it
        places = list(package.locations)
        if package.origin is not None and not package.is_package:
            places.append(package.origin)
        for place in places:
            tops.setdefault(place, set()).add(top)
    files = _files(tops)
    if files is None:
        return None
    registering: list[_Registering] = []
    for file, of in files.items():
        try:
            text = fileread.read_text(file)
        except fileread.ReadError:
            return None
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)  # identifiers are, as the parser reads them
        uses = _word_ends(text, "register_module")
        if uses:
            called_with = any(_ARGUMENTS.match(text, end) for end in uses)
            registering.append(_Registering(text, frozenset(of), bool(_word_ends(text, "Registry")), called_with))
    return ModuleTexts(tuple(registering))


def _word_ends(text: str, word: str) -> list[int]:
    """Where each occurrence of ``word`` as a whole word of ``text`` ends (a plain search first:
    a regular expression that starts at a word boundary scans the text character by character)."""
    out = []
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        before = text[at - 1] if at else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            out.append(end)
        at = text.find(word, end)
    return out


def _files(places: dict[str, set[str]]) -> dict[str, set[str]] | None:
    """Every ``.py`` file that is a regular file (through links) in the folders ``places`` name,
    their sub-folders included, or a file they name, with the top-level packages of each; ``None``
    past :data:`MAX_SCANNED` files, or where a folder cannot be listed."""
    out: dict[str, set[str]] = {}
    for place, of in places.items():
        if not os.path.isdir(place):
            if os.path.isfile(place):
                out.setdefault(place, set()).update(of)
            continue
        for file in _walk(place):
            if file is None:
                return None
            out.setdefault(file, set()).update(of)
            if len(out) > MAX_SCANNED:
                return None
    return out


def _walk(folder: str) -> Iterator[str | None]:
    """The ``.py`` files below ``folder``, each folder listed once however links reach it;
    ``None`` for one that cannot be listed."""
    seen: set[str] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        real = os.path.realpath(current)
        if real in seen:
            continue
        seen.add(real)
        if len(seen) > MAX_SCANNED:
            yield None
            return
        try:
            entries = list(os.scandir(current))
        except (OSError, ValueError):
            yield None
            return
        for entry in entries:
            try:
                if entry.is_dir():
                    stack.append(entry.path)
                elif entry.name.endswith(".py") and entry.is_file():
                    yield entry.path
            except OSError:
                continue  # neither: the import system finds no module there either

"""The configs that inherit the files given to ``lint``: what a change to a base can break.

``lint changed/base.py`` (and pre-commit, which passes only the changed files) would check the
base alone; the configs of its tree that inherit it are checked with it. "Its tree" is the folder
:func:`losstune.edit.inheritors.project_root` finds, searched as ``set --in-base`` searches it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from msgspec import Struct, field

SEARCH_SECONDS = 60.0


class Dependents(Struct):
    """The configs to check besides the given ones (those that inherit one, and those that name
    one but cannot be resolved), and a sentence for what the search did not reach (out of time)."""

    configs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_dependents(paths: Iterable[str], scan: str | None = None, seconds: float = SEARCH_SECONDS) -> Dependents:
    """The configs that inherit a file named in ``paths`` (a folder's files are not searched for:
    the folder is the tree the user asked for), under ``scan`` or else in each file's project,
    found within ``seconds`` per folder searched; none that is named or under a named folder."""
    from losstune.edit.inheritors import find_inheritors, project_root

    paths = list(paths)
    files = [os.path.abspath(p) for p in paths if os.path.isfile(p)]
    folders = [os.path.abspath(p) for p in paths if os.path.isdir(p)]
    by_root: dict[str, list[str]] = {}
    for f in files:
        by_root.setdefault(os.path.abspath(scan) if scan else project_root(f, [f]), []).append(f)
    out = Dependents()
    given = set(files)
    for root, named in by_root.items():
        if any(_below(root, folder) for folder in folders):
            continue  # the whole tree is checked already
        found = find_inheritors(named[0], named, scan=root, seconds=seconds, by_name=True)
        # A file that names a given one but cannot be resolved may be what the change broke: it is
        # checked too, and its finding says what is wrong with it.
        for config in [*found.configs, *found.unresolved]:
            config = os.path.abspath(config)
            if config not in given and not any(_below(config, folder) for folder in folders):
                given.add(config)
                out.configs.append(config)
        out.notes += found.incomplete
    return out


def _below(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # another drive
        return False

"""Key paths: ``model.roi_head.bbox_head.1.loss_cls.loss_weight``, short suffixes, and ``*``.

A full path names every step from the top of the config, with list indices as integers. A short
path (``loss_cls.gamma``) is any suffix of full paths that matches exactly one of them; when it
matches several, the error lists them. ``*`` matches every key or element at its step, and may
match several paths on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from losstune.errors import LosstuneError
from losstune.loader.values import SCALARS_AND_TEXT

Path = tuple[str | int, ...]


class KeyPathError(LosstuneError):
    """A key path that names nothing, or names several things without ``*``.

    ``candidates`` lists the full paths that matched (ambiguity) or that are close (typo)."""

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


def parse(key: str) -> tuple[str, ...]:
    """Split a dotted key path into its steps."""
    if not key or any(part == "" for part in key.split(".")):
        raise KeyPathError(f"`{key}` is not a key path: write steps separated by dots, like `loss_cls.gamma`")
    return tuple(key.split("."))


def format_path(path: Path) -> str:
    """The dotted form of a path."""
    return ".".join(str(p) for p in path)


def walk(value: Any, prefix: Path = ()) -> list[tuple[Path, Any]]:
    """Every (path, value) below ``value``, depth first, parents before children."""
    out: list[tuple[Path, Any]] = []
    append = out.append

    def visit(v: Any, p: Path) -> None:
        if isinstance(v, dict):
            items: Any = v.items()
        elif isinstance(v, (list, tuple)):
            items = enumerate(v)
        else:
            return
        for k, child in items:
            q = (*p, k)
            append((q, child))
            visit(child, q)

    visit(value, prefix)
    return out


def walk_dicts(value: Any, prefix: Path = ()) -> list[tuple[Path, dict[Any, Any]]]:
    """The dicts among :func:`walk`'s (path, value) pairs, in the same order, found without
    making a path for every other value."""
    out: list[tuple[Path, dict[Any, Any]]] = []
    if not isinstance(value, (dict, list, tuple)):
        return out
    append = out.append
    leaves = SCALARS_AND_TEXT
    # Depth first without a call per container: the innermost container's items are taken up
    # again where they were left once the container met in them is done.
    stack: list[tuple[Path, Iterator[tuple[Any, Any]]]] = [(prefix, _children(value))]
    while stack:
        p, items = stack[-1]
        for k, child in items:
            if type(child) in leaves:
                continue  # most values: skipped by their exact type, without isinstance
            if isinstance(child, dict):
                q = (*p, k)
                append((q, child))
                stack.append((q, iter(child.items())))
                break
            if isinstance(child, (list, tuple)):
                stack.append(((*p, k), iter(enumerate(child))))
                break
        else:
            stack.pop()
    return out


def _step_matches(pattern: str, step: str | int) -> bool:
    return pattern == "*" or pattern == str(step)


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, (list, tuple)):
        yield from enumerate(value)


def _from_root(value: Any, steps: tuple[str, ...], prefix: Path = ()) -> Iterator[Path]:
    if not steps:
        yield prefix
        return
    head, rest = steps[0], steps[1:]
    for k, v in _children(value):
        if _step_matches(head, k):
            yield from _from_root(v, rest, (*prefix, k))


def get(value: Any, path: Path) -> Any:
    """The value at a full path (``KeyError`` when absent)."""
    for step in path:
        value = value[step]
    return value


def resolve(cfg: Any, key: str) -> list[Path]:
    """Every full path that ``key`` names in ``cfg``.

    An exact path from the top wins; otherwise ``key`` is matched as a suffix. Raises
    :class:`KeyPathError` when nothing matches, or when a key without ``*`` matches several paths.
    """
    steps = parse(key)
    exact = list(_from_root(cfg, steps))
    if exact and ("*" in steps or len(exact) == 1):
        return exact
    found = list(_ending_with(cfg, steps))
    if not found:
        raise KeyPathError(f"`{key}` names nothing in this config", _close_matches(cfg, steps))
    if len(found) > 1 and "*" not in steps:
        raise KeyPathError(
            f"`{key}` is ambiguous: it matches {len(found)} keys; write more of the path, or use `*` for all",
            [format_path(p) for p in found],
        )
    return found


def names_anything(cfg: Any, key: str) -> bool:
    """Whether ``key`` names at least one path of ``cfg``, from the top or as a suffix."""
    steps = parse(key)
    return next(_from_root(cfg, steps), None) is not None or next(_ending_with(cfg, steps), None) is not None


def _ending_with(cfg: Any, steps: tuple[str, ...]) -> Iterator[Path]:
    n = len(steps)
    for p, _ in walk(cfg):
        if len(p) >= n and all(_step_matches(s, k) for s, k in zip(steps, p[len(p) - n :], strict=True)):
            yield p


def _close_matches(cfg: Any, steps: tuple[str, ...]) -> list[str]:
    import difflib

    last = steps[-1]
    names = {str(p[-1]) for p, _ in walk(cfg)}
    close = set(difflib.get_close_matches(last, names, n=3, cutoff=0.75))
    out = [format_path(p) for p, _ in walk(cfg) if str(p[-1]) in close]
    return out[:10]

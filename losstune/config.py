"""The resolved config as the Python API sees it."""

from __future__ import annotations

import os
from typing import Any

from losstune import keypath
from losstune.loader.resolve import FileResult, Resolver
from losstune.loader.values import LDict, to_plain
from losstune.locate import LossNode, SamplerRef, locate_in_head_losses, locate_losses, locate_samplers
from losstune.model import ConfigError, Diagnostic, Origin, Severity


class LoadedConfig:
    """A config resolved like ``mmengine.Config.fromfile``, where every value knows its origin.

    Obtain one with :func:`losstune.load`.
    """

    def __init__(self, result: FileResult) -> None:
        assert result.cfg is not None
        self.path = result.path
        self._cfg: LDict = result.cfg
        self.diagnostics: list[Diagnostic] = result.diagnostics
        self.files: list[str] = result.files
        self.base: LDict | None = result.base
        # A new-style config (`with read_base():`): its bases are imported, not merged.
        self.new_style = result.imported is not None
        self.sources = result.sources
        self._losses: list[LossNode] | None = None
        self._in_head: list[LossNode] | None = None
        self._nodes: list[tuple[keypath.Path, Any]] | None = None
        self._dicts: list[tuple[keypath.Path, dict[Any, Any]]] | None = None

    def nodes(self) -> list[tuple[keypath.Path, Any]]:
        """Every (full path, value) of the resolved tree, parents before children."""
        if self._nodes is None:
            self._nodes = keypath.walk(self._cfg)
        return self._nodes

    def dict_nodes(self) -> list[tuple[keypath.Path, dict[Any, Any]]]:
        """The dicts among :meth:`nodes`, in the same order."""
        if self._dicts is None:
            self._dicts = keypath.walk_dicts(self._cfg)
        return self._dicts

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data, equal to ``mmengine.Config.fromfile(path).to_dict()``."""
        out = to_plain(self._cfg)
        assert isinstance(out, dict)
        return out

    @property
    def tree(self) -> LDict:
        """The resolved tree itself (dicts are :class:`~losstune.loader.values.LDict`); do not modify."""
        return self._cfg

    def paths(self, key: str) -> list[keypath.Path]:
        """The full paths ``key`` names (full, short suffix, or with ``*``)."""
        return keypath.resolve(self._cfg, key)

    def get(self, key: str) -> Any:
        """The value at ``key``; a short or ``*`` key must name exactly one value."""
        paths = self.paths(key)
        if len(paths) != 1:
            raise keypath.KeyPathError(f"`{key}` names {len(paths)} values", [keypath.format_path(p) for p in paths])
        return to_plain(keypath.get(self._cfg, paths[0]))

    def origin(self, key: str) -> Origin | None:
        """Where the value at ``key`` was set: file, line, column, and how it was written.

        For a value inside a list, the origin of the list is given."""
        paths = self.paths(key)
        if len(paths) != 1:
            raise keypath.KeyPathError(f"`{key}` names {len(paths)} values", [keypath.format_path(p) for p in paths])
        return origin_at(self._cfg, paths[0])

    def losses(self) -> list[LossNode]:
        """Every loss of the config, each with its parameters and the bbox sampler feeding it."""
        if self._losses is None:
            self._losses = locate_losses(self._cfg, self.dict_nodes())
        return self._losses

    def in_head_losses(self) -> list[LossNode]:
        """The losses heads compute in their own code, with no loss dict in the config (SSDHead's
        ``loss_cls`` and ``loss_bbox``): not among :meth:`losses`, which are the config's own dicts."""
        if self._in_head is None:
            self._in_head = locate_in_head_losses(self._cfg, self.dict_nodes())
        return self._in_head

    def samplers(self) -> list[SamplerRef]:
        """Every bbox sampler written in the config."""
        return locate_samplers(self._cfg, self.dict_nodes())

    def __repr__(self) -> str:
        return f"<LoadedConfig {self.path!r}: {len(self._cfg)} keys>"


def origin_at(cfg: Any, path: keypath.Path) -> Origin | None:
    """The origin of the value at a full path: the nearest dict above it that recorded one."""
    best: Origin | None = None
    node: Any = cfg
    for step in path:
        if isinstance(node, LDict):
            best = node.origins.get(step, best)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return best
    return best


def load(
    path: str | os.PathLike[str],
    *,
    env: dict[str, str] | None = None,
    resolver: Resolver | None = None,
    strict: bool = True,
) -> LoadedConfig:
    """Resolve the config at ``path`` without executing it.

    ``env`` replaces ``os.environ`` for ``{{$VAR:default}}`` templates. A ``resolver`` shared between
    calls reads shared base files once. With ``strict`` (the default), any error-level diagnostic
    raises :class:`~losstune.model.ConfigError`; otherwise the config is returned with its
    ``diagnostics`` (values that could not be resolved are :class:`~losstune.loader.values.Opaque`).
    """
    result = (resolver or Resolver(env=env)).resolve(path)
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if result.cfg is None or (strict and errors):
        raise ConfigError(errors or result.diagnostics, result.sources)
    return LoadedConfig(result)

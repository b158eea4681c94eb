"""Names imported by new-style configs: mmengine's ``LazyObject`` and ``LazyAttr``, as data.

In a pure-Python config, ``from mmdet.models.losses.focal_loss import FocalLoss`` is never
imported: mmengine binds ``FocalLoss`` to a ``LazyObject`` and ``Config.to_dict()`` writes it as the
string ``'mmdet.models.losses.focal_loss.FocalLoss'``. :class:`LazyRef` records the same
information and produces the same string, following mmengine's rules for attribute chains.
"""

from __future__ import annotations

from typing import Any


class LazyRef:
    """A ``LazyObject`` (``attr is None``) or a ``LazyAttr`` (``attr`` is the attribute name)."""

    __slots__ = ("_module", "attr", "imported")

    def __init__(self, module: str | tuple[str, ...], imported: str | None = None, attr: str | None = None) -> None:
        self._module = module
        self.imported = imported
        self.attr = attr

    @property
    def module(self) -> str:
        """``LazyObject.module`` / ``LazyAttr.module``."""
        if isinstance(self._module, str):
            return self._module
        return self._module[0].split(".")[0]

    def __str__(self) -> str:
        if self.attr is not None:
            return self.attr
        return self.imported if self.imported is not None else self.module

    def text(self) -> str:
        """What ``Config.to_dict()`` writes for this name."""
        return f"{self.module}.{self}"

    def get_attr(self, name: str) -> LazyRef:
        """``obj.name``: a ``LazyAttr`` whose module follows mmengine's ``LazyAttr.__init__``."""
        if self.attr is not None:
            return LazyRef(f"{self._module}.{self.attr}", attr=name)
        if isinstance(self._module, str):
            module = self._module if self.imported is None else f"{self._module}.{self.imported}"
            return LazyRef(module, attr=name)
        return LazyRef(str(self), attr=name)

    def __repr__(self) -> str:
        return f"<lazy {self.text()}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyRef:
        return self


def lazy_to_string(value: Any) -> Any:
    """Replace every :class:`LazyRef` inside ``value`` by its string, in place where possible."""
    if isinstance(value, LazyRef):
        return value.text()
    if isinstance(value, dict):
        for k in list(value.keys()):
            value[k] = lazy_to_string(value[k])
        return value
    if isinstance(value, list):
        return [lazy_to_string(v) for v in value]
    if isinstance(value, tuple):
        return tuple(lazy_to_string(v) for v in value)
    return value

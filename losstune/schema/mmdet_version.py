"""Which MMDetection major version a config is written for."""

from __future__ import annotations

from typing import Any

_V3_KEYS = ("train_dataloader", "val_dataloader", "test_dataloader", "optim_wrapper")


def detection(cfg: Any) -> tuple[int, str | None]:
    """The major version a config's shape says, and the top-level key that says it (``None`` for
    the default): 3 for MMDetection 3.x configs (``train_dataloader``, ``optim_wrapper``), 2 for
    2.x configs (``data`` as a dict, ``lr_config`` beside ``optimizer``); 3 when the config shows
    neither."""
    if isinstance(cfg, dict):
        for key in _V3_KEYS:
            if key in cfg:
                return 3, key
        if isinstance(cfg.get("data"), dict):
            return 2, "data"
        if "optimizer" in cfg and "lr_config" in cfg:
            return 2, "lr_config"
    return 3, None


def detect_version(cfg: Any) -> int:
    """The major version of :func:`detection`."""
    return detection(cfg)[0]

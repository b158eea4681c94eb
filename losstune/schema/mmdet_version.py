"""Which MMDetection major version a config is written for."""

from __future__ import annotations

from typing import Any


def detect_version(cfg: Any) -> int:
    """3 for MMDetection 3.x configs (``train_dataloader``, ``optim_wrapper``), 2 for 2.x configs
    (``data=dict(...)``, ``optimizer`` with ``lr_config``); 3 when the config shows neither."""
    if not isinstance(cfg, dict):
        return 3
    if any(k in cfg for k in ("train_dataloader", "val_dataloader", "test_dataloader", "optim_wrapper")):
        return 3
    if isinstance(cfg.get("data"), dict) or ("optimizer" in cfg and "lr_config" in cfg):
        return 2
    return 3

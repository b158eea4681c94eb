"""MMDetection for the through-head path: imported (with the compiled-ops stand-in where mmcv has
none) with its registry in scope, mmengine's logging and every warning kept off stdout; or, where it
cannot be imported, one paragraph saying how to install it."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from losstune.errors import UsageError

INSTALL = (
    "pip install mmdet==3.3.0 'mmcv-lite==2.1.0' (or the full mmcv 2.x built for your torch: "
    "mim install 'mmcv>=2.0.0rc4,<2.2.0'); mmengine and torch come with them"
)


class NoMMDetection(UsageError):
    """``--through-head`` asked for, but MMDetection 3.x cannot be imported here."""


@dataclass(frozen=True)
class MMDet:
    """The imported MMDetection: its registry of models, its versions, whether the ops stand-in is in use."""

    models: Any  # mmdet.registry.MODELS
    version: str
    mmcv: str
    stand_in: bool


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Anything MMDetection or mmengine prints goes to stderr; their warnings are not shown."""
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loggers = _mmengine_loggers()
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _mmengine_loggers() -> list[logging.Logger]:
    """mmengine's loggers (its ``print_log`` writes through the current one), where it is imported."""
    if "mmengine.logging" not in sys.modules:
        importlib.import_module("mmengine.logging")
    from mmengine.logging import MMLogger

    MMLogger.get_current_instance()
    return [logging.getLogger("mmengine"), *MMLogger._instance_dict.values()]


def _version(module: ModuleType) -> str:
    return str(getattr(module, "__version__", "?"))


def load_mmdet() -> MMDet:
    """Import MMDetection 3.x and register its modules (``NoMMDetection`` where that fails)."""
    from losstune.engine.realhead.ops import ensure_ops

    if importlib.util.find_spec("mmdet") is None:
        raise NoMMDetection(
            f"--through-head runs MMDetection's own head, and MMDetection is not installed here: {INSTALL}"
        )
    with quiet():
        try:
            stand_in = ensure_ops()
            mmdet = importlib.import_module("mmdet")
            if not _version(mmdet).startswith("3."):
                raise NoMMDetection(
                    f"--through-head runs MMDetection 3.x's heads, and the installed MMDetection is {_version(mmdet)}: {INSTALL}"
                )
            mmcv = importlib.import_module("mmcv")
            utils = importlib.import_module("mmdet.utils")
            utils.register_all_modules(init_default_scope=False)
            registry = importlib.import_module("mmdet.registry")
        except NoMMDetection:
            raise
        except Exception as e:  # a broken install, a mismatched mmcv: said in one paragraph
            raise NoMMDetection(
                f"--through-head runs MMDetection's own head, and MMDetection cannot be imported here "
                f"({type(e).__name__}: {e}): {INSTALL}"
            ) from None
    return MMDet(registry.MODELS, _version(mmdet), _version(mmcv), stand_in)

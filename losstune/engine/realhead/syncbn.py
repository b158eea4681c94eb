"""Synchronised batch normalisation on one process, as mmengine's ``revert_sync_batchnorm`` leaves it.

mmcv's ``MMSyncBN`` (``mmcv.ops.SyncBatchNorm``) asks ``torch.distributed`` for its world size
while it is built, so a config that names it cannot even be built without a process group (the
strong baselines' and Simple Copy-Paste's Mask R-CNN heads), and its forward is a compiled op.
On one process its statistics are the batch's own, which is what a ``BatchNorm`` computes:
mmengine's ``revert_sync_batchnorm`` turns a built one into ``_BatchNormXd`` with its weights and
running statistics. A model is built here with ``MMSyncBN`` giving that layer directly, with the
weights ``MMSyncBN`` initialises (``weight`` uniform in [0, 1), ``bias`` 0, drawn from the same
generator), so the rest of the model is initialised as it would be. PyTorch's own ``SyncBN``
(``nn.SyncBatchNorm``) builds and runs on one process without a group and is left as it is. The
loss inputs of one process do not depend on the statistics being synchronised over others."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

MMSYNCBN = "MMSyncBN"


def _one_process_class(built: list[str]) -> type:
    """``_BatchNormXd`` (any input of 2 dimensions or more, as mmengine reverts to) initialised as
    ``MMSyncBN`` initialises itself; ``group`` and ``stats_mode`` taken and unused (a world of one);
    each one built is added to ``built``."""
    from mmengine.model.utils import _BatchNormXd

    class OneProcessSyncBN(_BatchNormXd):  # type: ignore[misc]
        def __init__(
            self,
            num_features: int,
            eps: float = 1e-5,
            momentum: float = 0.1,
            affine: bool = True,
            track_running_stats: bool = True,
            group: Any = None,
            stats_mode: str = "default",
        ) -> None:
            if stats_mode not in ("default", "N"):  # MMSyncBN's own check
                raise AssertionError(f'"stats_mode" only accepts "default" and "N", got "{stats_mode}"')
            super().__init__(num_features, eps, momentum, affine, track_running_stats)
            built.append(MMSYNCBN)

        def reset_parameters(self) -> None:
            self.reset_running_stats()
            if self.affine:
                self.weight.data.uniform_()  # MMSyncBN's (PyTorch's BatchNorm uses ones_)
                self.bias.data.zero_()

    return OneProcessSyncBN


@contextlib.contextmanager
def one_process_norms() -> Iterator[list[str]]:
    """While inside, mmengine's registry builds ``MMSyncBN`` as a one-process ``BatchNorm`` (see
    the module's text); yields the list of the layers so built (one entry a layer, its type)."""
    from mmengine.registry import MODELS

    built: list[str] = []
    original = MODELS._module_dict.get(MMSYNCBN)
    if original is None:
        yield built
        return
    MODELS._module_dict[MMSYNCBN] = _one_process_class(built)
    try:
        yield built
    finally:
        MODELS._module_dict[MMSYNCBN] = original


def reverted_note(built: list[str]) -> str:
    """The layers :func:`one_process_norms` built, in words ("" when none)."""
    if not built:
        return ""
    from losstune.words import count

    return (
        f"{count(len(built), 'MMSyncBN layer')} built as BatchNorm on this one process, as mmengine's "
        "revert_sync_batchnorm makes them (on one process synchronised statistics are the batch's own)"
    )

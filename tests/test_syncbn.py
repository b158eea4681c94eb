"""MMSyncBN on one process (losstune.engine.realhead.syncbn): built as the ``_BatchNormXd`` that
mmengine's own ``revert_sync_batchnorm`` turns a built MMSyncBN into, with the same weights, and a
config that asks for it runs through its real head, saying so."""

from __future__ import annotations

import importlib.util
import socket

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from tests.conftest import PROJECTS  # noqa: E402

needs_mmdet = pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="MMDetection 3.3.0 is not installed")
CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
needs_configs = pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
STRONG = "strong_baselines/mask-rcnn_r50_fpn_rpn-2conv_4conv1fc_syncbn-all_lsj-100e_coco.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_mmdet
def test_it_is_what_revert_sync_batchnorm_makes_of_a_built_mmsyncbn(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmengine.model.utils
    import torch.distributed as dist
    from mmengine.model.utils import _BatchNormXd, revert_sync_batchnorm
    from mmengine.registry import MODELS

    from losstune.engine.realhead.importing import load_mmdet
    from losstune.engine.realhead.syncbn import one_process_norms

    load_mmdet()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        torch.manual_seed(5)
        theirs = MODELS.build({"type": "MMSyncBN", "num_features": 6, "eps": 1e-3, "momentum": 0.05})
    finally:
        dist.destroy_process_group()
    # mmengine reverts mmcv's layer where mmcv's compiled ops are (with mmcv-lite, losstune's stand-in)
    monkeypatch.setattr(mmengine.model.utils, "mmcv_full_available", lambda: True)
    reverted = revert_sync_batchnorm(torch.nn.Sequential(theirs))[0]
    assert type(reverted) is _BatchNormXd
    torch.manual_seed(5)
    with one_process_norms() as built:
        ours = MODELS.build({"type": "MMSyncBN", "num_features": 6, "eps": 1e-3, "momentum": 0.05})
    assert built == ["MMSyncBN"]
    assert isinstance(ours, _BatchNormXd)
    assert (ours.eps, ours.momentum) == (reverted.eps, reverted.momentum)
    assert torch.equal(ours.weight, reverted.weight) and torch.equal(ours.bias, reverted.bias)
    x = torch.randn(3, 6, 5, 5)
    reverted.train()
    ours.train()
    assert torch.equal(ours(x), reverted(x))
    assert MODELS.get("MMSyncBN") is type(theirs)  # the registry as it was, outside


@needs_mmdet
@needs_configs
def test_a_config_of_mmsyncbn_runs_through_its_head_and_says_so() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import run_head
    from losstune.render.headrun import render_terms, run_data

    run = run_head(losstune.load(CONFIGS / STRONG), BatchSpec(size=64), pure=True)
    assert {"loss_rpn_cls", "loss_cls", "loss_bbox", "loss_mask"} <= {t.name for t in run.terms}
    # the 4 convs of the box head and the mask head's 4 (head_norm_cfg); the backbone's and the
    # neck's SyncBN is PyTorch's, which builds and runs on one process as it is
    assert run.one_process.startswith("8 MMSyncBN layers built as BatchNorm on this one process")
    assert run.one_process in render_terms(run).replace("\n  ", " ")
    assert run_data(run)["one_process"] == run.one_process

"""The comparison's batch is large enough for a two-stage DETR's queries: DINO (and DeformableDETR
with ``as_two_stage``) take ``torch.topk`` of ``num_queries`` of the encoder's tokens, which fails
where the image has fewer (DINO's 900 of 340 tokens at 128 pixels)."""

from __future__ import annotations

from typing import Any

import losstune
from losstune.engine.realhead.batch import BatchSpec, encoder_tokens, fitted
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet


def _dino(levels: int, indices: tuple[int, ...], queries: int = 900, **more: Any) -> dict[str, Any]:
    return {
        "type": "DINO",
        "num_queries": queries,
        "num_feature_levels": levels,
        "backbone": {"type": "ResNet", "out_indices": indices},
        "neck": {"type": "ChannelMapper", "num_outs": levels},
        **more,
    }


def test_the_tokens_are_every_levels_pixels() -> None:
    # 4 levels at strides 8, 16, 32, 64: 16² + 8² + 4² + 2² at 128 pixels; 28² + 14² + 7² + 4² at 224
    assert encoder_tokens(_dino(4, (1, 2, 3)), 128) == 340
    assert encoder_tokens(_dino(4, (1, 2, 3)), 224) == 1045
    # 5 levels of Swin's 4 stages at 4 to 32, and one more at 64
    assert encoder_tokens(_dino(5, (0, 1, 2, 3)), 128) == 1024 + 256 + 64 + 16 + 4


def test_a_dino_batch_grows_to_the_first_multiple_of_32_that_holds_its_queries() -> None:
    spec = fitted(BatchSpec(size=128), _dino(4, (1, 2, 3)))
    assert spec.size == 224 and spec.sized_by == "DINO's 900 queries taken from its encoder's tokens"
    assert fitted(BatchSpec(size=128), _dino(5, (0, 1, 2, 3))).size == 128  # 1,364 tokens already
    assert fitted(BatchSpec(size=256), _dino(4, (1, 2, 3))).size == 256  # never smaller
    one_stage = {**_dino(4, (1, 2, 3)), "type": "DeformableDETR"}
    assert fitted(BatchSpec(size=128), one_stage).size == 128
    assert fitted(BatchSpec(size=128), {**one_stage, "as_two_stage": True}).size == 224
    # DDQ-DETR keeps what its NMS leaves, however few: its size is the batch's
    assert fitted(BatchSpec(size=128), {**_dino(4, (1, 2, 3)), "type": "DDQDETR"}).size == 128


@needs_mmdet
@needs_configs
def test_dinos_4_scale_head_runs_and_its_terms_agree() -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "dino/dino-4scale_r50_8xb2-12e_coco.py"), BatchSpec(size=128))
    assert checked.family == "DETRHead" and len(checked.terms) == 39
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
    assert {"enc_loss_cls", "dn_loss_cls", "d4.dn_loss_iou"} <= {t.term for t in checked.terms}

"""The model of GLIP's head (losstune.engine.heads_glip): the caption's tokens and each class's token
against MMDetection 3.3.0's own prompt and ``create_positive_map`` (through a BERT tokenizer of a
local vocabulary of one-word names, which is what the model assumes), and the rules held against
MMDetection's real ``ATSSVLFusionHead`` on synthetic feature maps, a language dict and data samples
carrying positive maps as ``GLIP.loss`` makes them. The head reads a BERT configuration by name
(``BertConfig.from_pretrained``): the tests write one of bert-base-uncased's shape to a folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from losstune.engine import heads_glip as hg  # noqa: E402
from losstune.engine.headmodel import AvgRule, Counts, family_of, rule_for  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

needs_transformers = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None,
    reason="transformers is not installed (GLIP's head reads a BERT configuration with it)",
)
FINETUNE = CONFIGS / "glip" / "glip_atss_swin-t_a_fpn_dyhead_16xb2_ms-2x_funtune_coco.py"
NAMES = tuple(f"thing{i}" for i in range(80))  # one word, one token each


def test_the_caption_of_80_one_token_names_is_161_tokens_padded_to_256() -> None:
    cap = hg.caption({}, 80)
    assert (cap.tokens, cap.width) == (161, 256)
    assert cap.spans[0] == (1, 2) and cap.spans[79] == (159, 160)
    assert hg.caption({"language_model": {"pad_to_max": False}}, 80).width == 161


def test_a_caption_past_max_tokens_is_truncated_and_late_classes_have_no_token() -> None:
    cap = hg.caption({}, 365)
    assert cap.tokens == 256
    assert cap.spans[127] == (255, 256) and cap.spans[128] is None
    assert hg.caption({"language_model": {"max_tokens": 64}}, 80).tokens == 64


def test_names_count_their_words_and_the_training_datasets_names_are_read_statically() -> None:
    assert [hg.words(n) for n in ("person", "traffic light", "t-shirt", "ball_(sports)", "hair drier")] == [
        1,
        2,
        3,
        1,
        2,
    ]
    cap = hg.caption({}, 3, ("person", "traffic light"))  # [CLS] person . traffic light . x [SEP]
    assert cap.spans == ((1, 2), (3, 5), (6, 7)) and cap.tokens == 8 and cap.named == 2
    coco = {"train_dataloader": {"dataset": {"type": "mmdet.CocoDataset"}}}
    assert hg.dataset_classes(coco) == hg.COCO_CLASSES and len(hg.COCO_CLASSES) == 80
    wrapped = {"train_dataloader": {"dataset": {"type": "RepeatDataset", "dataset": {"metainfo": {"classes": ["a"]}}}}}
    assert hg.dataset_classes(wrapped) == ("a",)
    assert hg.dataset_classes({"train_dataloader": {"dataset": {"type": "Objects365V1Dataset"}}}) == ()


def test_token_targets_mark_each_positive_at_its_class_token_only() -> None:
    cap = hg.caption({}, 3)  # [CLS] a . b . c [SEP]
    classes = torch.tensor([0, 2, 3, 1])
    positive = torch.tensor([True, True, False, False])
    targets = hg.token_targets(classes, positive, cap)
    assert targets.shape == (4, 7)
    assert targets[0].nonzero().flatten().tolist() == [1]
    assert targets[1].nonzero().flatten().tolist() == [5]
    assert targets[2:].sum() == 0


def test_glip_is_its_own_family_with_atss_box_rules_and_a_token_loss_cls() -> None:
    assert family_of("ATSSVLFusionHead") == "ATSSVLFusionHead"
    assert rule_for("ATSSVLFusionHead", "loss_cls").layout == "tokens"
    for name in ("loss_bbox", "loss_centerness"):
        assert rule_for("ATSSVLFusionHead", name) == rule_for("ATSSHead", name)


@needs_configs
def test_the_model_hands_loss_cls_every_anchors_tokens_flattened_and_says_it_approximates() -> None:
    import losstune

    cfg = losstune.load(FINETUNE)  # trains on CocoDataset: the caption of COCO's 80 names
    r = evaluate_config(cfg, "model.bbox_head.loss_cls", seed=0, num_priors=682)
    pred, target, weight = r.args
    tokens = 1 + sum(hg.words(n) + 1 for n in hg.COCO_CLASSES)
    assert tokens == 176
    assert pred.shape == target.shape == weight.shape == (682 * tokens,)
    rows = target.view(682, tokens)
    positives = int((rows.sum(1) > 0).sum())
    assert positives == r.trace.steps[0].value["positives"] > 0
    assert set(rows.sum(1).tolist()) <= {0.0, 1.0, 2.0}  # a name's words: one or two in COCO's
    assert r.kwargs["avg_factor"] == max(positives, 1)
    text = r.trace.steps[0].description
    assert "approximated" in text and "the 80 class names of the training dataset" in text


def _bert_folder(tmp: Path, names: tuple[str, ...] = NAMES) -> Path:
    """A folder with bert-base-uncased's configuration (hidden size 768) and a vocabulary of the
    words of ``names``, each a token."""
    import re

    from transformers import BertConfig

    folder = tmp / "bert"
    folder.mkdir()
    BertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072).to_json_file(folder / "config.json")
    found = dict.fromkeys(w for n in names for w in re.findall(r"[^\W_]+|[^\w\s]", n.lower()))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *found]
    (folder / "vocab.txt").write_text("".join(f"{w}\n" for w in vocab), encoding="utf-8")
    return folder


@needs_mmdet
def test_coco_classes_are_mmdetections_coco_dataset_metainfo() -> None:
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.datasets import CocoDataset

    assert hg.COCO_CLASSES == tuple(CocoDataset.METAINFO["classes"])


@needs_mmdet
@needs_transformers
@pytest.mark.parametrize("names", [NAMES, hg.COCO_CLASSES])
def test_the_caption_and_positive_maps_are_glips_for_a_vocabulary_of_the_words(
    tmp_path: Path, names: tuple[str, ...]
) -> None:
    from transformers import BertTokenizerFast

    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.detectors.glip import GLIP, create_positive_map

    tokenizer = BertTokenizerFast(str(_bert_folder(tmp_path, names) / "vocab.txt"))
    caption, tokens_positive = GLIP.to_plain_text_prompts(SimpleNamespace(_special_tokens=". "), list(names))
    tokenized = tokenizer([caption], return_tensors="pt")
    cap = hg.caption({}, len(names), names)
    assert tokenized.input_ids.shape[1] == cap.tokens
    labels = torch.tensor([0, 9, 41, 79])  # COCO's person, traffic light, wine glass, toothbrush
    theirs = create_positive_map(tokenized, [tokens_positive[int(c)] for c in labels]).bool().float()
    ours = hg.token_targets(labels, torch.ones(4, dtype=torch.bool), cap)
    assert torch.equal(theirs[:, : cap.tokens], ours) and theirs[:, cap.tokens :].sum() == 0


def _recording(module: Any, calls: list[tuple[tuple[Any, ...], dict[str, Any], Any]]) -> None:
    """Record each call of a loss module: its arguments and its result."""
    forward = module.forward

    def recorded(*args: Any, **kwargs: Any) -> Any:
        out = forward(*args, **kwargs)
        calls.append((args, kwargs, out))
        return out

    module.forward = recorded


def _real_head_run(tmp: Path, boxes: int) -> tuple[Any, dict[str, Any], dict[str, list[Any]]]:
    """MMDetection's ATSSVLFusionHead (one dyhead block, the fine-tune config's losses) run on two
    128 × 128 images of ``boxes`` boxes each, a caption of NAMES (161 tokens): its loss dict and the
    calls of each loss module."""
    from losstune.engine.realhead.importing import load_mmdet
    from losstune.engine.realhead.pureops import pure_ops

    load_mmdet()
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    torch.manual_seed(0)
    head = MODELS.build(
        {
            "type": "ATSSVLFusionHead",
            "lang_model_name": str(_bert_folder(tmp)),
            "num_classes": 80,
            "in_channels": 256,
            "feat_channels": 256,
            "num_dyhead_blocks": 1,
            "anchor_generator": {
                "type": "AnchorGenerator",
                "ratios": [1.0],
                "octave_base_scale": 8,
                "scales_per_octave": 1,
                "strides": [8, 16, 32, 64, 128],
                "center_offset": 0.5,
            },
            "bbox_coder": {
                "type": "DeltaXYWHBBoxCoderForGLIP",
                "target_means": [0.0] * 4,
                "target_stds": [0.1, 0.1, 0.2, 0.2],
            },
            "loss_cls": {"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25, "loss_weight": 1.0},
            "loss_bbox": {"type": "GIoULoss", "loss_weight": 2.0},
            "loss_centerness": {"type": "CrossEntropyLoss", "use_sigmoid": True, "loss_weight": 1.0},
            "train_cfg": {"assigner": {"type": "ATSSAssigner", "topk": 9}, "allowed_border": -1, "pos_weight": -1},
        }
    )
    cap = hg.caption({}, 80)
    g = torch.Generator().manual_seed(1)
    feats = tuple(torch.randn(2, 256, 128 // s, 128 // s, generator=g) for s in (8, 16, 32, 64, 128))
    masks = torch.zeros(2, cap.width)
    masks[:, : cap.tokens] = 1
    lang = {
        "embedded": torch.randn(2, cap.width, 768, generator=g),
        "hidden": torch.randn(2, cap.width, 768, generator=g),
        "masks": masks,
    }
    samples = []
    for _ in range(2):
        wh = (0.2 + 0.5 * torch.rand(boxes, 2, generator=g)) * 128
        xy = torch.rand(boxes, 2, generator=g) * (128 - wh)
        labels = torch.randint(0, 80, (boxes,), generator=g)
        gt = InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=labels)
        positive = hg.token_targets(labels, torch.ones(boxes, dtype=torch.bool), cap)
        gt.positive_maps = torch.cat([positive, torch.zeros(boxes, hg.MAX_ENTITIES - cap.tokens)], 1)
        meta = {"img_shape": (128, 128), "pad_shape": (128, 128), "batch_input_shape": (128, 128)}
        samples.append(DetDataSample(gt_instances=gt, metainfo=meta))
    calls: dict[str, list[Any]] = {n: [] for n in ("loss_cls", "loss_bbox", "loss_centerness")}
    for name, recorded in calls.items():
        _recording(getattr(head, name), recorded)
    with pure_ops(head):
        losses = head.loss(feats, lang, samples)
    return head, losses, calls


@needs_mmdet
@needs_transformers
@pytest.mark.parametrize("boxes", [3, 0])
def test_the_rules_are_the_real_heads(tmp_path: Path, boxes: int) -> None:
    _, losses, calls = _real_head_run(tmp_path, boxes)
    tokens = hg.caption({}, 80).tokens
    anchors = 256 + 64 + 16 + 4 + 1
    ((args, kwargs, _),) = calls["loss_cls"]
    pred, target = args[0], args[1]
    assert pred.shape == target.shape == (2 * anchors * tokens,)  # every anchor's valid tokens, flattened
    rows = target.view(2, anchors, tokens)
    positives = tuple(int(n) for n in (rows.sum(-1) > 0).sum(-1))
    assert set(rows.sum(-1).flatten().tolist()) <= {0.0, 1.0}  # one token a positive, as the model marks it
    counts = Counts(positives, tuple(anchors - p for p in positives), 2 * anchors)
    cls_rule = AvgRule(rule_for("ATSSVLFusionHead", "loss_cls"), "max(positives, 1)", None)
    assert cls_rule.avg(counts) == pytest.approx(float(kwargs["avg_factor"]))
    assert cls_rule.divisor(counts) is None
    if not boxes:
        assert not calls["loss_bbox"] and not calls["loss_centerness"]
        assert float(losses["loss_bbox"]) == 0.0 and float(losses["loss_centerness"]) == 0.0
        return
    assert sum(positives) > 0
    ((bargs, bkwargs, bout),) = calls["loss_bbox"]
    assert bargs[0].shape == (sum(positives), 4) and bkwargs["avg_factor"] == 1.0
    weights = float(bkwargs["weight"].sum())
    box_rule = AvgRule(rule_for("ATSSVLFusionHead", "loss_bbox"), "max(positives, 1)", None)
    box_counts = Counts(positives, counts.negatives, sum(positives), weights)
    assert box_rule.avg(box_counts) == 1.0
    assert float(losses["loss_bbox"].detach()) == pytest.approx(
        float(bout.detach()) / box_rule.divisor(box_counts), rel=1e-5
    )
    ((cargs, ckwargs, cout),) = calls["loss_centerness"]
    assert cargs[0].shape == (sum(positives),)
    ctr_rule = AvgRule(rule_for("ATSSVLFusionHead", "loss_centerness"), "max(positives, 1)", None)
    assert ctr_rule.avg(counts) == pytest.approx(float(ckwargs["avg_factor"]))
    assert float(losses["loss_centerness"].detach()) == pytest.approx(float(cout.detach()))


@needs_transformers
def test_the_transformers_installed_has_what_glips_fusion_layers_import() -> None:
    """mmdet 3.3.0's `vlfuse_helper` (GLIP's `early_fuse` layers) imports
    `apply_chunking_to_forward` from `transformers.modeling_utils`, and where that fails it builds
    its layers on `object`, which cannot be built: the comparison then loses GLIP's fine-tune configs
    without a failure. transformers 4.56 dropped that name there (the dev extra asks for 4.36 to 4.38)."""
    from transformers import modeling_utils

    assert callable(getattr(modeling_utils, "apply_chunking_to_forward", None))

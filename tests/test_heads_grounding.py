"""The model of Grounding DINO's head (losstune.engine.heads_grounding): DINO's terms, its logits
over the prompt's text tokens (counted a word a token, truncated to the language model's
``max_tokens``), the classification's avg_factor ``max(positives, 1)``; with MMDetection 3.3.0 and
``transformers`` installed, held against the real GroundingDINOHead through the detector, with an
offline random BERT (``benchmarks/offline_bert.py``) in place of bert-base-uncased."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_grounding as hg  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

GDINO = "grounding_dino/grounding_dino_r50_scratch_8xb2_1x_coco.py"
ODD_NAMES = ("traffic light", "hair_drier (old)", "T-shirt", "person's bag", "cat")


def _prompt(classes: tuple[str, ...]) -> str:
    """The prompt GroundingDINO.get_tokens_and_prompts makes of ``classes`` (custom entities)."""
    return "".join(f"{hg.clean_label_name(c)}. " for c in classes)


def test_the_prompt_of_cocos_classes_counts_their_words_dots_cls_and_sep() -> None:
    words = sum(len(c.split()) for c in hg.COCO_CLASSES)
    assert len(hg.COCO_CLASSES) == 80 and words == 95
    assert hg.prompt_tokens(hg.COCO_CLASSES) == 2 + 80 + 95
    # punctuation is a token of its own, a parenthesis is left out and _ is a space
    assert hg.clean_label_name("hair_drier (old)") == "hair drier "
    assert hg.prompt_tokens(("T-shirt", "person's bag")) == 2 + (3 + 1) + (4 + 1)


def test_the_text_tokens_are_truncated_to_max_tokens_and_unknown_names_are_one_word() -> None:
    head = {"type": "GroundingDINOHead", "num_classes": 5}
    found = hg.text_tokens({"language_model": {"max_tokens": 8}}, head, ODD_NAMES)
    assert found.untruncated == hg.prompt_tokens(ODD_NAMES) == 2 + 3 + 3 + 4 + 5 + 2
    assert found.tokens == 8 and found.how.endswith("19 truncated to 8")
    # no names: num_classes words and their dots
    assert hg.text_tokens({}, head, ()).tokens == 2 + 2 * 5
    # the dataset's names alone, however many classes the head has (mm_grounding_dino's 256)
    assert hg.text_tokens({}, head, ("traffic light",)).tokens == 2 + 3
    # the head's max_text_len bounds them too; 1,203 names are cut at 256
    assert hg.text_tokens({}, head | {"contrastive_cfg": {"max_text_len": 10}}, ODD_NAMES).tokens == 10
    assert hg.text_tokens({}, head | {"num_classes": 1203}, ()).tokens == 256


def test_the_dataset_classes_are_read_through_wrappers_or_cocos_default() -> None:
    metainfo = {"metainfo": {"classes": ("a", "b")}, "type": "CocoDataset"}
    wrapped = {"train_dataloader": {"dataset": {"type": "RepeatDataset", "dataset": metainfo}}}
    assert hg.dataset_classes(wrapped) == ("a", "b")
    concat = {"train_dataloader": {"dataset": {"type": "ConcatDataset", "datasets": [{"type": "CocoDataset"}]}}}
    assert hg.dataset_classes(concat) == hg.COCO_CLASSES
    assert hg.dataset_classes({"train_dataloader": {"dataset": {"type": "ODVGDataset"}}}) == ()
    assert hg.dataset_classes(concat, {}) == ()


def test_the_words_are_those_berts_tokenizer_splits(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from benchmarks import offline_bert

    for classes in (hg.COCO_CLASSES, ODD_NAMES):
        folder = offline_bert.write(hg.words_of(hg.clean_label_name(c) for c in classes), root=tmp_path, layers=1)
        tokenized = AutoTokenizer.from_pretrained(folder)(_prompt(classes))
        assert len(tokenized["input_ids"]) == hg.prompt_tokens(classes)
        assert "[UNK]" not in AutoTokenizer.from_pretrained(folder).convert_ids_to_tokens(tokenized["input_ids"])


@needs_mmdet
def test_the_clean_names_are_mmdets() -> None:
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.detectors.grounding_dino import clean_label_name

    assert [hg.clean_label_name(c) for c in ODD_NAMES] == [clean_label_name(c) for c in ODD_NAMES]


@needs_configs
def test_the_model_feeds_dinos_terms_with_logits_over_the_text_tokens() -> None:
    cfg = losstune.load(CONFIGS / GDINO)
    result = evaluate_config(cfg, "loss_cls")
    assert result.family == hg.GROUNDING_HEAD
    assert len(result.log_names) == 13  # the last layer, d0 to d4, the encoder's, the denoising queries' 6
    assert {"loss_cls", "d4.loss_cls", "enc_loss_cls", "dn_loss_cls", "d4.dn_loss_cls"} == {
        n for n in result.log_names if n in ("loss_cls", "d4.loss_cls", "enc_loss_cls", "dn_loss_cls", "d4.dn_loss_cls")
    }
    assert tuple(result.args[0].shape) == (900, 177)  # 900 queries, the 177 tokens of COCO's prompt
    positives = int((result.args[1] < 177).sum())  # the others' label is the background's, 177
    assert result.kwargs["avg_factor"] == max(positives, 1) == 8  # 8 boxes, a query each
    assert "max(positives + bg_cls_weight × negatives, 1), bg_cls_weight=0 = 8" in result.trace.steps[0].description
    assert any("177 text tokens" in n and "losstune runs no tokenizer" in n for n in result.notes)
    dn = evaluate_config(cfg, "loss_cls", term="dn_loss_cls")
    assert dn.args[0].shape[1] == 177


def _small(tmp_path: Path, max_tokens: int) -> Path:
    """The Grounding DINO config with few queries and layers, three classes named, and its
    prompt (10 tokens) truncated to ``max_tokens``."""
    path = tmp_path / "small_grounding_dino.py"
    path.write_text(
        f"_base_ = {str(CONFIGS / GDINO)!r}\n"
        "model = dict(num_queries=30, encoder=dict(num_layers=1, num_cp=0), decoder=dict(num_layers=2),\n"
        f"    language_model=dict(max_tokens={max_tokens}), bbox_head=dict(num_classes=3),\n"
        "    dn_cfg=dict(group_cfg=dict(num_dn_queries=20)))\n"
        "train_dataloader = dict(dataset=dict(metainfo=dict(classes=('traffic light', 'cat', 'hair_drier (old)'))))\n",
        encoding="utf-8",
    )
    return path


def _held(path: Path, spec: BatchSpec) -> object:
    from benchmarks import offline_bert
    from benchmarks.headmodel_check import text_detector
    from losstune.engine.realhead.versus import hold

    text = text_detector(losstune.load(path), spec)
    assert text is not None
    cfg, spec, folder, how = text
    assert how.startswith("the dataset's 3 class names")
    assert spec.text == ("traffic light", "cat", "hair_drier (old)")
    with offline_bert.admitted(folder):
        return hold(cfg, spec)


needs_transformers = pytest.mark.skipif(
    __import__("importlib").util.find_spec("transformers") is None, reason="needs transformers (the dev extra)"
)


@needs_mmdet
@needs_configs
@needs_transformers
@pytest.mark.parametrize(("max_tokens", "boxes"), [(256, 3), (6, 3), (256, 0)])
def test_the_real_head_agrees_in_shape_avg_factor_and_division(tmp_path: Path, max_tokens: int, boxes: int) -> None:
    from losstune.engine.realhead.versus import HeadCheck

    checked = _held(_small(tmp_path, max_tokens), BatchSpec(size=128, boxes=boxes))
    assert isinstance(checked, HeadCheck)
    assert checked.head_type == checked.family == hg.GROUNDING_HEAD
    # 3 terms of each: the last layer, d0, the encoder's, the denoising queries' of both layers
    terms = {t.term: t for t in checked.terms}
    if boxes:
        assert len(terms) == 15
    else:  # no box, no denoising query: dn_loss_cls is zeros(1), no module called; the box terms on 0 rows
        assert set(checked.skipped) == {"dn_loss_cls", "d0.dn_loss_cls"} and len(terms) == 13
        assert all(terms[f"{p}dn_loss_{k}"].real.rows == 0 for p in ("", "d0.") for k in ("bbox", "iou"))
    for t in checked.terms:
        # the model's denoising queries are those of its own image's boxes, never none
        assert t.shape_ok or (not boxes and "dn_" in t.term), (t.term, t.why)
        assert t.avg_ok and t.scale_ok, (t.term, t.why)
    tokens = min(hg.prompt_tokens(("traffic light", "cat", "hair_drier (old)")), max_tokens)
    cls = {t.term: t for t in checked.terms if t.term.endswith("loss_cls")}
    assert {t.real.width for t in cls.values()} == {t.model_width for t in cls.values()} == {(tokens,)}
    assert cls["loss_cls"].real.rows == 30  # each query a row of the prompt's tokens
    assert cls["loss_cls"].real.avg == max(2 * boxes, 1)  # one query a box, both images'; 1 with none

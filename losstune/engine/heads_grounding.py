"""Grounding DINO's head (MMDetection 3.3.0's ``GroundingDINOHead``, a ``DINOHead``): DINO's terms
(``loss_cls``, ``loss_bbox``, ``loss_iou`` of the last decoder layer, ``d0.`` to ``d{n-2}.`` of the
others, ``enc_`` of the encoder's queries, ``dn_`` of the denoising queries), DINO's Hungarian
matching, and a contrastive classification: each query's logits are its similarity to every token
of the text prompt (``max_text_len`` wide, 256 by default), and ``loss_by_feat_single`` hands the
classification loss only those of the prompt's tokens (``masked_select`` by the text token mask),
a positive query's target 1 at the tokens of its class's name. Its ``bg_cls_weight`` is 0 (only
``DETRHead`` itself turns ``class_weight`` into one), so the classification's avg_factor is
``max(positives, 1)``, the positives summed over the images, as the box terms' is.

The prompt is built by ``GroundingDINO.get_tokens_and_prompts`` from the dataset's class names
(``custom_entities``): ``"name. name. ... "``, each name cleaned (``clean_label_name``), and
tokenized by the language model's tokenizer: ``[CLS]``, each name's tokens and its ``.``,
``[SEP]``, at most ``language_model.max_tokens`` (256). losstune runs no tokenizer: it counts a
name's words as BERT's basic tokenizer splits them (runs of letters and digits, each punctuation
character alone) and takes each word for one token, which bert-base-uncased's WordPiece splits
further for rare words (``drier``); where the config names no classes and its dataset is not
CocoDataset (whose 80 names are below), each class is taken for one word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from losstune.engine.confignum import config_int
from losstune.schema.catalogue import bare_type

GROUNDING_HEAD = "GroundingDINOHead"
MAX_TEXT_LEN = 256  # ContrastiveEmbed's width unless contrastive_cfg.max_text_len sets it
MAX_TOKENS = 256  # BertModel's max_tokens: the prompt is truncated to it

# CocoDataset's METAINFO classes (MMDetection 3.3.0), the dataset of most Grounding DINO configs,
# which name no classes of their own
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
DEFAULT_CLASSES = {"CocoDataset": COCO_CLASSES}


def words_of(names: Iterable[str]) -> list[str]:
    """The lower-cased words of ``names`` as BERT's basic tokenizer splits them: runs of letters
    and digits, each punctuation character alone (``_`` is punctuation to it), in first-seen order."""
    seen: dict[str, None] = {}
    for name in names:
        for w in _words(name):
            seen.setdefault(w)
    return list(seen)


def _words(name: str) -> list[str]:
    return re.findall(r"[^\W_]+|[^\w\s]|_", name.lower())


def clean_label_name(name: str) -> str:
    """A class name as ``GroundingDINO.get_tokens_and_prompts`` puts it in the prompt: without a
    parenthesis, ``_`` as a space."""
    return re.sub(r"  ", " ", re.sub(r"_", " ", re.sub(r"\(.*\)", "", name)))


def prompt_tokens(classes: Sequence[str]) -> int:
    """The tokens of the prompt of ``classes``, untruncated: ``[CLS]``, each cleaned name's words
    and its ``.``, ``[SEP]``, a word a token."""
    return 2 + sum(len(_words(clean_label_name(c))) + 1 for c in classes)


def dataset_classes(tree: dict[str, Any], defaults: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The class names of the config's training dataset: its ``metainfo.classes`` (through the
    dataset wrappers' ``dataset`` and the first of ``datasets``), else those of its type in
    ``defaults`` (:data:`DEFAULT_CLASSES` unless given), else none."""
    from losstune.engine.heads_glip import training_dataset

    named, ds = training_dataset(tree)
    kind = ds.get("type") if ds is not None else None
    if named or not isinstance(kind, str):
        return named
    return (DEFAULT_CLASSES if defaults is None else defaults).get(bare_type(kind), ())


@dataclass(frozen=True)
class TextTokens:
    """The prompt's tokens the head's classification is handed for each query (``tokens``), how
    many the prompt has before truncation (``untruncated``), and how they were counted, in words."""

    tokens: int
    untruncated: int
    how: str


def text_tokens(model: dict[str, Any], head: dict[str, Any], classes: Sequence[str]) -> TextTokens:
    """The text tokens of the prompt of ``classes`` (the dataset's, :func:`dataset_classes`; where
    there are none, ``head.num_classes`` one-word names), truncated to the language model's
    ``max_tokens`` and the head's ``contrastive_cfg.max_text_len``, approximated as the module
    says (a word a token)."""
    extra = 0 if classes else config_int(head, "num_classes", 80, least=1)
    untruncated = prompt_tokens(classes) + 2 * extra
    language = model.get("language_model")
    contrastive = head.get("contrastive_cfg")
    limit = min(config_int(language, "max_tokens", MAX_TOKENS, least=1), max_text_len(contrastive))
    source = f"the {len(classes)} class names of the dataset" if classes else ""
    if extra:
        source = f"{extra} classes (num_classes) of one word each (the dataset names none statically)"
    how = (
        f"{min(untruncated, limit)} text tokens: the prompt of {source} ('name. name. ... '), [CLS] and [SEP], "
        "a word taken for a token (losstune runs no tokenizer)"
    )
    if untruncated > limit:
        how += f", {untruncated} truncated to {limit}"
    return TextTokens(min(untruncated, limit), untruncated, how)


def max_text_len(contrastive: Any) -> int:
    """``contrastive_cfg.max_text_len`` (256 unless set): the width of the head's logits."""
    return config_int(contrastive, "max_text_len", MAX_TEXT_LEN, least=1)

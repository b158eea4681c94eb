"""GLIP's head (``ATSSVLFusionHead``) as MMDetection 3.3.0 feeds its ``loss_cls``, ``loss_bbox``
and ``loss_centerness``.

The head is ATSSHead's loss code with a contrastive classification: its logits are over the text's
tokens, not over classes. ``GLIP.loss`` joins the class names of the sample's ``text`` into one
caption (``"person. bicycle. car"``, each name cleaned by ``clean_label_name``), tokenizes it with
the language model's tokenizer, and gives each ground-truth box a positive map: 1 at every token of
its class's name, 0 elsewhere, over ``create_positive_map``'s 256 token positions
(``.bool().float()``; tokens past the 256th are not marked). The language model (``BertModel``:
``max_tokens`` 256, padded to it with ``pad_to_max``) gives the text masks, 1 at the caption's
tokens (truncated to ``max_tokens``).

``_get_targets_single`` assigns the anchors with ATSS and samples with the PseudoSampler as
ATSSHead does; a positive anchor's labels are its box's positive map, a negative's all 0, the label
weights 1 at every positive and negative. ``_loss_by_feat`` keeps only the caption's tokens
(``masked_select`` of the logits, the labels and the label weights, repeated per token, by the text
masks) and hands ``loss_cls`` one flat row of every anchor's valid tokens, image after image, with
``avg_factor`` the sampling's (``Σ max(positives, 1)`` over the images, ``reduce_mean``-ed). The
positives of the box terms are the anchors whose labels hold a token (``labels.sum(-1) > 0``):
``loss_bbox`` on their decoded predictions against their boxes, weighted by their centerness
targets, ``avg_factor=1.0``, the result divided by ``max(Σ centerness targets, 1)``;
``loss_centerness`` on their centerness logits against those targets, by the sampling's
``avg_factor``. Those two are ATSSHead's rules.

What depends on the tokenizer is approximated: losstune does not tokenize. The class names are the
training dataset's where the config gives them (``metainfo.classes``; CocoDataset's 80 where it
names that type and no others), each name counted as its words as BERT's basic tokenizer splits
them (runs of letters and digits, each punctuation mark alone); BERT's wordpieces can be more
(``toothbrush``: ``tooth``, ``##brush``). A class without a name (no dataset names them, or the head
has more classes than it) stands for one token. The caption is ``[CLS]``, each name and its ``.``,
and ``[SEP]``, at most ``max_tokens``. A class whose tokens are past the 256th position has none, so
its boxes' anchors are positives of no token (the box terms of such anchors are not modelled)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.inputs import untrained_logits
from losstune.schema.catalogue import bare_type

GLIP_HEAD = "ATSSVLFusionHead"
MAX_ENTITIES = 256  # create_positive_map's token positions (its max_num_entities)
MAX_TOKENS = 256  # BertModel's max_tokens
APPROXIMATED = (
    "the caption's tokens approximated: each class name counted as its words (losstune does not "
    "tokenize; BERT's wordpieces can be more)"
)
COCO_CLASSES = (
    *("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light"),
    *("fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow"),
    *("elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee"),
    *("skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard"),
    *("tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple"),
    *("sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch"),
    *("potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard"),
    *("cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase"),
    *("scissors", "teddy bear", "hair drier", "toothbrush"),
)
_DEFAULT_CLASSES = {"CocoDataset": COCO_CLASSES}  # a dataset type's METAINFO classes, by its type


@dataclass(frozen=True)
class Caption:
    """The caption's tokens as the model counts them: the text masks' valid tokens, the width of
    the head's logits before they are masked (``max_tokens`` padded, else the caption's), and each
    class's tokens (``(start, end)``, end excluded, cut at the positive map's 256; ``None``: none)."""

    tokens: int
    width: int
    spans: tuple[tuple[int, int] | None, ...]
    named: int = 0  # the classes counted by their names (the others one token each)

    def describe(self) -> str:
        """Where the caption's classes come from, in words."""
        classes = len(self.spans)
        if self.named >= classes:
            return f"the {classes} class names of the training dataset"
        if not self.named:
            return f"{classes} classes of one token each (the config names no classes statically)"
        return f"the training dataset's {self.named} class names and {classes - self.named} classes of one token each"


def training_dataset(tree: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, Any] | None]:
    """The config's training dataset as read statically: its ``metainfo.classes`` (through the
    dataset wrappers' ``dataset`` and the first of ``datasets``; ``()`` where none names them), and
    the innermost dataset dict reached (``None``: no dataset dict)."""
    loader = tree.get("train_dataloader")
    ds = loader.get("dataset") if isinstance(loader, dict) else None
    while isinstance(ds, dict):
        meta = ds.get("metainfo")
        classes = meta.get("classes") if isinstance(meta, dict) else None
        if isinstance(classes, (list, tuple)) and classes and all(isinstance(c, str) for c in classes):
            return tuple(classes), ds
        inner = ds.get("dataset", ds.get("datasets"))
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if not isinstance(inner, dict):
            break
        ds = inner
    return (), ds if isinstance(ds, dict) else None


def dataset_classes(tree: dict[str, Any]) -> tuple[str, ...]:
    """The class names of the config's training dataset, as the config gives them (see
    :func:`training_dataset`), else those of its type where losstune knows them (CocoDataset's),
    else none."""
    named, ds = training_dataset(tree)
    kind = ds.get("type") if ds is not None else None
    if named or not isinstance(kind, str):
        return named
    return _DEFAULT_CLASSES.get(bare_type(kind), ())


def words(name: str) -> int:
    """The tokens of one class name as BERT's basic tokenizer splits it (after GLIP's
    ``clean_label_name``: no parenthesised part, ``_`` a space): its words and punctuation marks."""
    cleaned = re.sub(r"\(.*\)", "", name).replace("_", " ")
    return max(len(re.findall(r"[^\W_]+|[^\w\s]", cleaned.lower())), 1)


def caption(model: dict[str, Any], num_classes: int, names: tuple[str, ...] = ()) -> Caption:
    """The caption of ``num_classes`` classes (``names`` for the first of them, one token each for
    the rest), as the config's language model (``model.language_model``: ``max_tokens``,
    ``pad_to_max``) encodes it."""
    lm = model.get("language_model")
    lm = lm if isinstance(lm, dict) else {}
    max_tokens = config_int(lm, "max_tokens", MAX_TOKENS, least=2)
    spans: list[tuple[int, int] | None] = []
    at = 1  # after [CLS]
    for i in range(num_classes):
        n = words(names[i]) if i < len(names) else 1
        end = min(at + n, MAX_ENTITIES)
        spans.append((at, end) if at < end else None)
        at += n + 1  # the name, then its "." (or [SEP] after the last)
    tokens = min(at, max_tokens)
    width = max_tokens if lm.get("pad_to_max", True) is not False else tokens
    return Caption(tokens, width, tuple(spans), min(len(names), num_classes))


def token_targets(classes: Tensor, positive: Tensor, cap: Caption) -> Tensor:
    """Each anchor's labels over the caption's valid tokens, ``(anchors, tokens)``: 1 at its class's
    tokens for a positive (``classes``: each anchor's class, ``positive``: which are), else 0."""
    out = torch.zeros(classes.numel(), cap.tokens)
    for row in torch.nonzero(positive).squeeze(1).tolist():
        c = int(classes[row])
        span = cap.spans[c] if 0 <= c < len(cap.spans) else None
        if span is not None:
            out[row, span[0] : min(span[1], cap.tokens)] = 1.0
    return out


def token_inputs(
    args: list[Any], positive: Tensor, classes: Tensor, cap: Caption, g: torch.Generator
) -> tuple[list[Any], str]:
    """``loss_cls``'s arguments as the head hands them, from a dense head's (class logits, labels,
    label weights of every anchor): every anchor's logits over the caption's tokens, as an
    untrained head makes them, its token targets and its label weight repeated per token, flattened."""
    n = classes.numel()
    # the untrained head's bias0 is the prior bias, -log((1 - 0.01) / 0.01), the dot product with
    # the text's projected tokens spreading its logits about it
    logits = untrained_logits(n, cap.tokens, generator=g)
    targets = token_targets(classes, positive, cap)
    weights = args[2] if len(args) > 2 and isinstance(args[2], Tensor) else torch.ones(n)
    flat = [logits.reshape(-1), targets.reshape(-1), weights[:, None].expand(n, cap.tokens).reshape(-1)]
    text = (
        f"; {GLIP_HEAD} hands loss_cls every anchor's logits over the caption's {cap.tokens} tokens "
        f"(of {cap.width}, the text masks'; {cap.describe()}), flattened, each positive's targets 1 at its "
        f"class's tokens; {APPROXIMATED}"
    )
    return flat, text


__all__ = [
    "APPROXIMATED",
    "COCO_CLASSES",
    "GLIP_HEAD",
    "Caption",
    "caption",
    "dataset_classes",
    "token_inputs",
    "token_targets",
    "training_dataset",
    "words",
]

"""An offline stand-in for the BERT that MMDetection's text detectors (Grounding DINO, GLIP) read by
name with Hugging Face's ``from_pretrained`` (``bert-base-uncased``): a local folder holding a
configuration of bert-base-uncased's shape (hidden size 768, 12 heads; fewer layers), a
``vocab.txt`` of the words of the classes, and randomly initialised weights, written once. Nothing
is downloaded and no pretrained weight is read: the comparison's terms are those of a random
language model, as its visual weights are random too.

losstune itself refuses every ``from_pretrained`` (see ``losstune/engine/realhead/checkpoints.py``)
and keeps refusing it; :func:`admitted` lets this one folder through, for the comparison only, and
:func:`substituted` points a config's language model at it (``--cfg-options`` of
``model.language_model.name`` and of any ``lang_model_name`` inside a head).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from losstune.engine.heads_grounding import words_of as words_of

# bert-base-uncased's special tokens and the prompt separators the text detectors use (". ", "?")
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PUNCTUATION = ".?,;:!'\"()[]{}-_/&+"
LAYERS = 2  # the encoder layers of the stand-in (bert-base-uncased has 12): the head sees its last hidden states
SEED = 0

# the config keys that name the language model: the detector's, and a head's own (GLIP's ATSSVLFusionHead)
NAME_KEYS = (("language_model", "name"), ("lang_model_name",))


def default_root() -> Path:
    """Where the folders are written: ``$LOSSTUNE_OFFLINE_BERT``, else the temporary directory."""
    return Path(os.environ.get("LOSSTUNE_OFFLINE_BERT") or Path(tempfile.gettempdir()) / "losstune-offline-bert")


def write(words: Iterable[str] = (), root: Path | None = None, layers: int = LAYERS) -> Path:
    """The folder of a random BERT whose vocabulary holds ``words`` (besides the special tokens,
    the punctuation and the letters), written under ``root`` the first time these words and layers
    are asked for and reused after (the folder is named by their hash). Needs ``transformers``."""
    import torch
    from transformers import BertConfig, BertModel

    vocab = list(dict.fromkeys([*SPECIAL, *PUNCTUATION, *"abcdefghijklmnopqrstuvwxyz0123456789", *words]))
    key = hashlib.sha256(json.dumps([vocab, layers]).encode()).hexdigest()[:16]
    folder = (root or default_root()) / f"bert-{key}"
    if (folder / "done").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=768,
        num_hidden_layers=layers,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    )
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        BertModel(config).save_pretrained(folder)
    (folder / "vocab.txt").write_text("".join(f"{w}\n" for w in vocab), encoding="utf-8")
    tokenizer = {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    (folder / "done").write_text("", encoding="utf-8")
    return folder


def name_options(model: dict[str, Any], folder: Path) -> list[str]:
    """The ``--cfg-options`` that point every language model name of ``model`` (the config's
    ``model`` dict, as plain data) at ``folder``; none for a model that names none."""
    options: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                here = f"{path}.{k}"
                if isinstance(v, str) and (
                    k == "lang_model_name" or (k == "name" and path.rsplit(".", 1)[-1] == "language_model")
                ):
                    options.append(f"{here}={folder}")
                else:
                    walk(v, here)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{path}.{i}")

    walk(model, "model")
    return options


def checkpointing_options(model: dict[str, Any]) -> list[str]:
    """``model.encoder.num_cp=0`` where the encoder wraps layers in fairscale's activation
    checkpointing (Grounding DINO's ``num_cp=6``) and fairscale is not installed: MMDetection
    refuses to build it then; checkpointing recomputes a layer's forward in the backward pass to
    save memory and leaves the loss as it is."""
    import importlib.util

    encoder = model.get("encoder")
    cp = encoder.get("num_cp") if isinstance(encoder, dict) else None
    if not isinstance(cp, int) or cp <= 0 or importlib.util.find_spec("fairscale") is not None:
        return []
    return ["model.encoder.num_cp=0"]


def dataset_classes(tree: dict[str, Any]) -> tuple[str, ...]:
    """The class names the config's training dataset has: its ``metainfo.classes`` (through the
    dataset wrappers' ``dataset`` and the first of ``datasets``), else its type's ``METAINFO`` in
    MMDetection's registry (CocoDataset's 80), else none. Needs ``mmdet`` importable."""
    from losstune.engine.heads_glip import training_dataset

    named, ds = training_dataset(tree)
    kind = ds.get("type") if ds is not None else None
    if named or not isinstance(kind, str):
        return named
    from mmdet.registry import DATASETS

    try:
        registered = DATASETS.get(kind.rpartition(".")[2])
    except Exception:  # a type of another registry, or one that does not import
        return ()
    classes = getattr(registered, "METAINFO", {}).get("classes") if registered is not None else None
    return tuple(classes) if isinstance(classes, (list, tuple)) else ()


def prompt_classes(tree: dict[str, Any], num_classes: int) -> tuple[tuple[str, ...], str]:
    """The class names a text detector's synthetic samples carry as ``text`` (their labels index
    them): the dataset's (:func:`dataset_classes`); where it has none, ``object{i}`` names, one
    word each as losstune's model takes a class it has no name for, ``num_classes`` of them or as
    many as a prompt of ``max_tokens`` holds; and where they came from, in words."""
    found = dataset_classes(tree)
    if found:
        return found, f"the dataset's {len(found)} class names"
    model = tree.get("model")
    language = model.get("language_model") if isinstance(model, dict) else None
    max_tokens = language.get("max_tokens", 256) if isinstance(language, dict) else 256
    held = (max_tokens - 2) // 2 if isinstance(max_tokens, int) else 127
    names = tuple(f"object{i}" for i in range(min(num_classes, max(held, 1))))
    return names, f"{len(names)} one-word placeholder names (the dataset names no classes statically)"


def names_language_model(model: Any) -> bool:
    """Whether a ``model`` dict names a language model (a text detector's)."""
    return isinstance(model, dict) and bool(name_options(model, Path(".")))


def _calling(found: Any, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``found`` (a class attribute as stored: a classmethod, a staticmethod or a function) called
    for ``cls`` with ``args``."""
    if isinstance(found, classmethod):
        return found.__func__(cls, *args, **kwargs)
    if isinstance(found, staticmethod):
        return found.__func__(*args, **kwargs)
    return found(cls, *args, **kwargs)


@contextlib.contextmanager
def admitted(folder: Path) -> Iterator[None]:
    """While inside, losstune's refusal of Hugging Face's ``from_pretrained`` (see
    ``checkpoints.refusing_loads``) lets ``folder`` through: a ``from_pretrained`` of that path
    runs as ``transformers`` has it; any other name is still refused."""
    from transformers.utils import logging

    from losstune.engine.realhead import checkpoints, run

    logging.set_verbosity_error()  # its notes on the pooler's weights a config's BertModel leaves out
    product = checkpoints.refusing_loads
    allowed = str(Path(folder).resolve())

    @contextlib.contextmanager
    def refusing_but(asked: list[Any]) -> Iterator[None]:
        transformers = checkpoints._hugging_face()
        named = [getattr(transformers, n, None) for n in checkpoints._HUGGING_FACE] if transformers else []
        classes = [c for c in named if isinstance(c, type)]
        real = {c: inspect.getattr_static(c, "from_pretrained") for c in classes}
        with product(asked):
            refused = {c: inspect.getattr_static(c, "from_pretrained") for c in classes}

            def through(c: type) -> Any:
                def from_pretrained(cls: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
                    chosen = real[c] if str(Path(str(name)).resolve()) == allowed else refused[c]
                    return _calling(chosen, cls, (name, *args), kwargs)

                return classmethod(from_pretrained)

            for c in classes:
                c.from_pretrained = through(c)  # type: ignore[attr-defined]
            try:
                yield
            finally:
                for c in classes:
                    c.from_pretrained = refused[c]  # type: ignore[attr-defined]

    run.refusing_loads = refusing_but  # type: ignore[assignment]
    try:
        yield
    finally:
        run.refusing_loads = product

"""The offline BERT the comparison stands in for a text detector's language model
(``benchmarks/offline_bert.py``): written locally, read by ``from_pretrained`` only while
:func:`admitted` lets its folder through, every other name still refused."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("mmengine")

from benchmarks import offline_bert
from losstune.engine.realhead.checkpoints import CheckpointRefused, refusing_loads


def test_words_split_as_bert_basic_tokenizer_splits() -> None:
    assert offline_bert.words_of(["Traffic light", "hair_drier", "person", "person (adult)"]) == [
        "traffic",
        "light",
        "hair",
        "_",
        "drier",
        "person",
        "(",
        "adult",
        ")",
    ]


def test_name_options_point_every_language_model_name_at_the_folder(tmp_path: Path) -> None:
    model = {
        "language_model": {"type": "BertModel", "name": "bert-base-uncased"},
        "bbox_head": {"type": "ATSSVLFusionHead", "lang_model_name": "bert-base-uncased"},
        "backbone": {"name": "not a language model"},
    }
    assert offline_bert.name_options(model, tmp_path) == [
        f"model.language_model.name={tmp_path}",
        f"model.bbox_head.lang_model_name={tmp_path}",
    ]
    assert offline_bert.names_language_model(model)
    assert not offline_bert.names_language_model({"backbone": {"name": "x"}})


def test_the_folder_tokenizes_the_prompt_a_word_a_token_and_only_it_is_admitted(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertModel

    from losstune.engine.realhead import run

    folder = offline_bert.write(offline_bert.words_of(["traffic light", "cat"]), root=tmp_path, layers=1)
    assert offline_bert.write(offline_bert.words_of(["traffic light", "cat"]), root=tmp_path, layers=1) == folder
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("traffic light. cat. ")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "traffic", "light", ".", "cat", ".", "[SEP]"]
    asked: list[object] = []
    with offline_bert.admitted(folder), run.refusing_loads(asked):
        model = BertModel.from_pretrained(folder, add_pooling_layer=False)
        assert model.config.hidden_size == 768 and model.config.num_hidden_layers == 1
        with pytest.raises(CheckpointRefused):
            BertModel.from_pretrained("bert-base-uncased")
    assert [a.checkpoint for a in asked] == ["bert-base-uncased"]  # type: ignore[attr-defined]
    assert run.refusing_loads is refusing_loads  # the product's refusal is back
    with refusing_loads([]), pytest.raises(CheckpointRefused):
        BertModel.from_pretrained(folder)

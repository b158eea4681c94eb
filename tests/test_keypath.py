"""Key paths: full, short (unique suffix), and `*`."""

from __future__ import annotations

import pytest

import losstune
from losstune.edit.values import AssignmentError, parse_assignment
from losstune.keypath import KeyPathError
from tests.conftest import EXAMPLES

CASCADE = EXAMPLES / "cascade_rcnn_r50_fpn_1x_coco.py"


def test_full_path_with_list_index() -> None:
    c = losstune.load(CASCADE)
    assert c.get("model.roi_head.bbox_head.1.loss_cls.loss_weight") == 1.0
    assert c.paths("model.roi_head.bbox_head.1.loss_bbox.beta") == [
        ("model", "roi_head", "bbox_head", 1, "loss_bbox", "beta")
    ]


def test_short_path_resolves_by_unique_suffix() -> None:
    c = losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    assert c.paths("loss_cls.gamma") == [("model", "bbox_head", "loss_cls", "gamma")]
    assert c.get("alpha") == 0.25
    # `gamma` alone also names the learning-rate schedule's gamma.
    with pytest.raises(KeyPathError) as err:
        c.get("gamma")
    assert err.value.candidates == ["model.bbox_head.loss_cls.gamma", "param_scheduler.1.gamma"]


def test_ambiguous_short_path_lists_candidates() -> None:
    c = losstune.load(CASCADE)
    with pytest.raises(KeyPathError) as err:
        c.paths("loss_cls.loss_weight")
    assert "ambiguous" in str(err.value)
    assert err.value.candidates == [
        "model.rpn_head.loss_cls.loss_weight",
        "model.roi_head.bbox_head.0.loss_cls.loss_weight",
        "model.roi_head.bbox_head.1.loss_cls.loss_weight",
        "model.roi_head.bbox_head.2.loss_cls.loss_weight",
    ]


def test_star_matches_every_element() -> None:
    c = losstune.load(CASCADE)
    paths = c.paths("bbox_head.*.loss_cls.loss_weight")
    assert [p[3] for p in paths] == [0, 1, 2]
    assert len(c.paths("rcnn.*.sampler.num")) == 3


def test_unknown_key_suggests_close_names() -> None:
    c = losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    with pytest.raises(KeyPathError) as err:
        c.paths("loss_cls.gama")
    assert "model.bbox_head.loss_cls.gamma" in err.value.candidates


def test_malformed_key() -> None:
    c = losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    with pytest.raises(KeyPathError):
        c.paths("loss_cls..gamma")


@pytest.mark.parametrize("value", ["[" * 50_000 + "]" * 50_000, '{"a": ' * 50_000 + "1" + "}" * 50_000])
def test_a_set_value_nested_too_deeply_is_refused_plainly(value: str) -> None:
    with pytest.raises(AssignmentError, match=r"^`loss_cls\.gamma=\.\.\.`: the value nests too deeply to be read"):
        parse_assignment("loss_cls.gamma=" + value)


def test_walk_dicts_is_the_dicts_of_walk_in_order() -> None:
    from losstune.keypath import walk, walk_dicts
    from losstune.loader.values import LDict

    inner = LDict(type="FocalLoss", gamma=2.0)
    tree = LDict(
        model=LDict(heads=[LDict(loss=inner), (1, {"x": [{"y": 1}]}), "text"], n=3),
        pipeline=({"a": 1}, [[{"b": {}}]]),
        empty={},
        leaf=1.5,
    )
    want = [(p, v) for p, v in walk(tree) if isinstance(v, dict)]
    assert len(want) == 9
    got = walk_dicts(tree)
    assert [p for p, _ in got] == [p for p, _ in want]
    assert all(a is b for (_, a), (_, b) in zip(got, want, strict=True))
    assert walk_dicts([{"z": 0}], ("top",)) == [(("top", 0), {"z": 0})]
    assert walk_dicts(3) == []


def test_losses_of_every_example_are_those_found_by_the_full_walk() -> None:
    from losstune.keypath import walk
    from losstune.locate import locate_losses, locate_samplers

    for path in sorted(EXAMPLES.rglob("*.py")):
        cfg = losstune.load(path, strict=False)
        assert cfg.losses() == locate_losses(cfg.tree, walk(cfg.tree))
        assert cfg.samplers() == locate_samplers(cfg.tree, walk(cfg.tree))

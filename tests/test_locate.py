"""Losses are found wherever they sit, each paired with the bbox sampler that feeds it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import losstune
from tests.conftest import EXAMPLES


def _pairs(path: Path) -> list[tuple[str, str, str | None, bool]]:
    c = losstune.load(path)
    return [
        (n.key, n.type, n.sampler.key if n.sampler else None, n.sampler.default if n.sampler else False)
        for n in c.losses()
    ]


def test_cascade_heads_pair_with_their_rcnn_stage() -> None:
    pairs = _pairs(EXAMPLES / "cascade_rcnn_r50_fpn_1x_coco.py")
    assert ("model.rpn_head.loss_cls", "CrossEntropyLoss", "model.train_cfg.rpn.sampler", False) in pairs
    for i in range(3):
        assert (
            f"model.roi_head.bbox_head.{i}.loss_bbox",
            "SmoothL1Loss",
            f"model.train_cfg.rcnn.{i}.sampler",
            False,
        ) in pairs


def test_dense_head_without_sampler_uses_pseudo_sampler() -> None:
    c = losstune.load(EXAMPLES / "gfl_r50_fpn_1x_coco.py")
    types = {n.key: n.type for n in c.losses()}
    assert types == {
        "model.bbox_head.loss_cls": "QualityFocalLoss",
        "model.bbox_head.loss_dfl": "DistributionFocalLoss",
        "model.bbox_head.loss_bbox": "GIoULoss",
    }
    for n in c.losses():
        assert n.sampler is not None and n.sampler.type == "PseudoSampler" and n.sampler.default


def test_dataset_samplers_are_not_bbox_samplers() -> None:
    c = losstune.load(EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py")
    keys = [s.key for s in c.samplers()]
    assert keys == ["model.train_cfg.rpn.sampler", "model.train_cfg.rcnn.sampler"]
    assert c.get("train_dataloader.sampler.type") == "DefaultSampler"


def test_a_dataloader_anywhere_holds_dataset_samplers(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "train_cfg = dict(dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)))\n")
    assert losstune.load(cfg).samplers() == []


def test_losses_outside_model_and_v2_top_level_train_cfg(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        detector = dict(
            type='RetinaNet',
            bbox_head=dict(type='RetinaHead', loss_cls=dict(type='mmdet.FocalLoss', gamma=2.0)))
        model = dict(
            type='FasterRCNN',
            roi_head=dict(bbox_head=dict(loss_cls=dict(type='CrossEntropyLoss'))))
        train_cfg = dict(rcnn=dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25)))
        """,
    )
    pairs = _pairs(cfg)
    assert pairs == [
        ("detector.bbox_head.loss_cls", "mmdet.FocalLoss", None, True),
        ("model.roi_head.bbox_head.loss_cls", "CrossEntropyLoss", "train_cfg.rcnn.sampler", False),
    ]


def test_assigner_costs_are_not_losses(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        model = dict(
            bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)),
            train_cfg=dict(assigner=dict(type='HungarianAssigner',
                                         match_costs=[dict(type='FocalLossCost', weight=2.0)])))
        """,
    )
    assert [n.key for n in losstune.load(cfg).losses()] == ["model.bbox_head.loss_cls"]

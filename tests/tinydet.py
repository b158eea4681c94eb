"""A tiny detector's training run on the CPU, for the tests of the RecordLossInputs hook: a
dataset of seeded synthetic images registered as ``TinyBoxes`` in MMDetection's registry, and
``python -m tests.tinydet CONFIG WORK_DIR``, which trains the config with mmengine's Runner."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import torch

from losstune.engine.realhead.importing import load_mmdet

load_mmdet()  # mmcv-lite has no compiled operators: the stand-in makes mmdet.models importable

from mmdet.registry import DATASETS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402


@DATASETS.register_module(force=True)
class TinyBoxes(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """``images`` seeded images of ``size`` × ``size`` pixels with ``boxes`` boxes each (3 classes)."""

    metainfo: ClassVar[dict[str, Any]] = {"classes": ("a", "b", "c")}

    def __init__(self, images: int = 4, size: int = 64, boxes: int = 2, **_: Any) -> None:
        self.images, self.size, self.boxes = images, size, boxes

    def __len__(self) -> int:
        return self.images

    def __getitem__(self, index: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(index)
        image = (torch.rand(3, self.size, self.size, generator=g) * 255).to(torch.uint8)
        wh = (0.2 + 0.5 * torch.rand(self.boxes, 2, generator=g)) * self.size
        xy = torch.rand(self.boxes, 2, generator=g) * (self.size - wh)
        sample = DetDataSample(
            metainfo={
                "img_id": index,
                "img_shape": (self.size, self.size),
                "ori_shape": (self.size, self.size),
                "scale_factor": (1.0, 1.0),
            }
        )
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], dim=1), labels=torch.randint(0, 3, (self.boxes,), generator=g)
        )
        return {"inputs": image, "data_samples": sample}


def train(config: str, work_dir: str) -> None:
    """Train ``config`` with mmengine's Runner, its outputs under ``work_dir``."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    Runner.from_cfg(cfg).train()


if __name__ == "__main__":
    train(sys.argv[1], sys.argv[2])

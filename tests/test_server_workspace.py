"""The server's workspace in process: what checking a buffer again and again keeps."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from losstune.server.workspace import Workspace
from tests.conftest import PROJECTS

CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"


@pytest.mark.skipif(not CONFIGS.is_dir(), reason="MMDetection 3.3.0 configs not downloaded")
def test_checking_a_buffer_again_and_again_keeps_no_garbage(tmp_path: Path) -> None:
    for part in ("retinanet", "_base_"):
        shutil.copytree(CONFIGS / part, tmp_path / part)
    path = str(tmp_path / "retinanet" / "retinanet_r50_fpn_1x_coco.py")
    text = Path(path).read_text()
    space = Workspace()

    def edits(n: int) -> None:
        for i in range(n):
            space.open(path, text + " " * (i % 2))
            space.check(path)

    edits(25)
    gc.collect()
    before = len(gc.get_objects())
    edits(100)
    # Each check leaves about a thousand objects in cycles, which the collector's young passes free
    # (the loader collects the youngest generation before it freezes what the process holds): at
    # most the last few checks' may be left, not a hundred's.
    assert len(gc.get_objects()) - before < 10_000

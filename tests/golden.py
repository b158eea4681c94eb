"""Whole-output tests against golden files under ``tests/golden/``.

Set LOSSTUNE_UPDATE_GOLDEN=1 to rewrite the golden files from the current output (then read the
difference before committing it)."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, out: str) -> None:
    """``out`` is the text of ``tests/golden/<name>`` (which LOSSTUNE_UPDATE_GOLDEN=1 rewrites)."""
    golden = GOLDEN / name
    if os.environ.get("LOSSTUNE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with LOSSTUNE_UPDATE_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8")

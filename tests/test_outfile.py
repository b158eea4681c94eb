"""Files written whole: the target is as it was or complete, never half-written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pytest

from losstune.outfile import write_whole


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old\n")

    def half(f: BinaryIO) -> None:
        f.write(b"new, but not all of it")
        raise KeyboardInterrupt  # as if stopped in the middle

    with pytest.raises(KeyboardInterrupt):
        write_whole(str(target), half)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_the_file_is_replaced_whole_with_the_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    old = os.umask(0o022)
    try:
        write_whole(str(target), lambda f: f.write(b"complete"))
    finally:
        os.umask(old)
    assert target.read_bytes() == b"complete"
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    # As a plain open() writes, and as losstune's edits write a config: the file the link names
    # changes, the link stays.
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "batch.pt"
    real.write_bytes(b"old")
    link = tmp_path / "batch.pt"
    link.symlink_to(real)
    write_whole(str(link), lambda f: f.write(b"new"))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.pt", "data"]
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["batch.pt"]

"""Parsed files and resolved bases kept for the process (losstune.loader.filecache), never stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import losstune
from losstune.loader import filecache, pysource
from losstune.loader.filecache import FileCache
from losstune.loader.resolve import Resolver


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    filecache.PROCESS_CACHE.clear()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names Python text is parsed for."""
    seen: list[str] = []
    real = pysource.parse

    def counted(text: str, filename: str = "<config>") -> object:
        seen.append(os.path.basename(filename))
        return real(text, filename)

    monkeypatch.setattr(pysource, "parse", counted)
    return seen


def tree(tmp_path: Path, base: str = "gamma = 2.0\n") -> Path:
    (tmp_path / "base.py").write_text(base)
    (tmp_path / "a.py").write_text("_base_ = './base.py'\na = 1\n")
    (tmp_path / "b.py").write_text("_base_ = './base.py'\nb = 1\n")
    return tmp_path


def rewrite_in_place(path: Path, text: str) -> None:
    """Write ``text`` into the same inode and put the modification time back as it was."""
    st = os.stat(path)
    with open(path, "r+", encoding="utf-8") as f:
        f.write(text)
        f.truncate()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_loads_in_a_loop_read_each_base_once(tmp_path: Path, parses: list[str]) -> None:
    tree(tmp_path)
    assert losstune.load(tmp_path / "a.py").to_dict() == {"gamma": 2.0, "a": 1}
    assert losstune.load(tmp_path / "b.py").to_dict() == {"gamma": 2.0, "b": 1}
    assert losstune.load(tmp_path / "a.py").to_dict() == {"gamma": 2.0, "a": 1}
    assert sorted(parses) == ["a.py", "b.py", "base.py"]


def test_a_file_edited_within_the_same_second_is_read_again(tmp_path: Path) -> None:
    tree(tmp_path)
    assert losstune.load(tmp_path / "a.py").get("gamma") == 2.0
    rewrite_in_place(tmp_path / "base.py", "gamma = 3.0\n")  # same size, same inode, same mtime
    assert losstune.load(tmp_path / "a.py").get("gamma") == 3.0
    (tmp_path / "a.py").write_text("_base_ = './base.py'\na = 2\n")
    assert losstune.load(tmp_path / "a.py").get("a") == 2


def test_a_changed_stamp_is_seen_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every stamp trusted, as for files older than the timestamps' resolution.
    monkeypatch.setattr(filecache, "RACY_NS", -(10**18))
    tree(tmp_path)
    assert losstune.load(tmp_path / "a.py").get("gamma") == 2.0
    rewrite_in_place(tmp_path / "base.py", "gamma = 4.0\n")  # only the status-change time tells
    assert losstune.load(tmp_path / "a.py").get("gamma") == 4.0
    (tmp_path / "base.py").write_text("gamma = 12.5\n")
    assert losstune.load(tmp_path / "b.py").get("gamma") == 12.5
    replacement = tmp_path / "new.py"
    replacement.write_text("gamma = 5.0\n")
    os.replace(replacement, tmp_path / "base.py")  # a new inode, as an editor's save
    assert losstune.load(tmp_path / "a.py").get("gamma") == 5.0


def test_a_changed_variable_is_never_served_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path, "gamma = float('{{$LT_TEST_GAMMA:2.0}}')\nroot = '{{$LT_TEST_ROOT:data/}}'\n")
    monkeypatch.delenv("LT_TEST_GAMMA", raising=False)
    assert losstune.load(tmp_path / "a.py").get("gamma") == 2.0
    monkeypatch.setenv("LT_TEST_GAMMA", "1.5")
    assert losstune.load(tmp_path / "a.py").get("gamma") == 1.5
    assert losstune.load(tmp_path / "a.py", env={"LT_TEST_GAMMA": "0.5"}).get("gamma") == 0.5
    assert losstune.load(tmp_path / "b.py", env={"LT_TEST_ROOT": "/x/"}).to_dict() == {
        "gamma": 2.0,
        "root": "/x/",
        "b": 1,
    }
    assert losstune.load(tmp_path / "a.py").get("gamma") == 1.5


def test_a_missing_base_that_appears_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("_base_ = './base.py'\na = 1\n")
    assert not losstune.load(tmp_path / "a.py", strict=False).to_dict().get("gamma")
    (tmp_path / "base.py").write_text("gamma = 2.0\n")
    assert losstune.load(tmp_path / "a.py").to_dict() == {"gamma": 2.0, "a": 1}


def test_an_overlay_never_reaches_the_cache(tmp_path: Path) -> None:
    tree(tmp_path)
    assert losstune.load(tmp_path / "a.py").get("gamma") == 2.0
    overlaid = Resolver(overlay={str(tmp_path / "base.py"): "gamma = 9.0\n"}).resolve(tmp_path / "a.py")
    assert overlaid.cfg is not None and overlaid.cfg["gamma"] == 9.0
    assert losstune.load(tmp_path / "a.py").get("gamma") == 2.0
    assert losstune.load(tmp_path / "b.py").get("gamma") == 2.0


def test_each_caller_gets_its_own_lists(tmp_path: Path) -> None:
    tree(tmp_path)
    first = losstune.load(tmp_path / "a.py")
    first.files.append("elsewhere.py")
    assert losstune.load(tmp_path / "a.py").files == [str(tmp_path / "a.py"), str(tmp_path / "base.py")]


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    files = FileCache(max_files=2, max_text_chars=10**6, max_results=1)
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.py").write_text(f"{name} = 1\n")
        Resolver(files=files).resolve(tmp_path / f"{name}.py")
    assert (len(files), files.results_kept()) == (2, 1)
    small = FileCache(max_text_chars=10)
    for name in ("a", "b", "c"):
        Resolver(files=small).resolve(tmp_path / f"{name}.py")
    assert len(small) == 1 and losstune.load(tmp_path / "a.py", resolver=Resolver(files=small)).get("a") == 1

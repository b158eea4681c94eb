"""`losstune set --in-base` lists the configs that inherit the edited file: searched in the config's
own project only, within a time budget, and a file it cannot check is a note, never a failed edit."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from losstune.edit import inheritors
from losstune.edit.inheritors import SCAN_SECONDS, find_inheritors, project_root
from losstune.loader.resolve import FileResult, Resolver
from tests.conftest import REPO, invoke

BASE = "model = dict(loss=dict(type='FocalLoss', gamma=2.0))\n"


@pytest.fixture
def project(write: Callable[..., Path], tmp_path: Path) -> Path:
    """A project with a base, two configs that inherit it, one that cannot be read, one that
    inherits nothing, and beside it a sibling project whose config inherits the same base."""
    write("proj/pyproject.toml", "[project]\nname = 'p'\n")
    write("proj/configs/_base_/models/m.py", BASE)
    write("proj/configs/_base_/models/other.py", "_base_ = './m.py'\n")
    write("proj/configs/a.py", "_base_ = './_base_/models/m.py'\n")
    write("proj/configs/sub/b.yaml", "_base_: ../_base_/models/other.py\n")
    write("proj/configs/broken.py", b"_base_ = './_base_/models/m.py'\nname = '\xff'\n")
    write("proj/configs/plain.py", "x = (\n")  # names no base: not read, so no note either
    write("sibling/c.py", "_base_ = '../proj/configs/_base_/models/m.py'\n")
    return tmp_path / "proj"


def test_the_project_is_searched_and_a_broken_file_is_a_note(project: Path) -> None:
    code, out = invoke("set", "loss.gamma=1.5", "configs/a.py", "--in-base", "--dry-run", cwd=project)
    assert code == 0, out
    assert out == (
        "  model.loss.gamma: 2.0 -> 1.5\n"
        "  the edit changes 2 config(s) under the current folder:\n"
        "    configs/a.py\n"
        "    configs/sub/b.yaml\n"
        "  note: could not check configs/broken.py: `configs/broken.py` is not UTF-8 text: "
        "byte 0xff at line 2, column 9 (configs/broken.py:2)\n"
        "--- a/configs/_base_/models/m.py\n"
        "+++ b/configs/_base_/models/m.py\n"
        "@@ -1 +1 @@\n"
        "-model = dict(loss=dict(type='FocalLoss', gamma=2.0))\n"
        "+model = dict(loss=dict(type='FocalLoss', gamma=1.5))\n"
        "(dry run: nothing was written)\n"
    )


def test_scan_names_another_folder(project: Path) -> None:
    code, out = invoke(
        "set", "loss.gamma=1.5", "configs/a.py", "--in-base", "--scan", "..", "--format", "json", cwd=project
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["written"] is True and report["scanned"] == str(project.parent)
    assert report["affected"] == ["configs/a.py", "configs/sub/b.yaml", str(project.parent / "sibling" / "c.py")]
    assert [u.split(":")[0] for u in report["unchecked"]] == ["could not check configs/broken.py"]
    assert "gamma=1.5" in (project / "configs" / "_base_" / "models" / "m.py").read_text()


def test_scan_needs_in_base_and_a_folder(project: Path) -> None:
    code, out = invoke("set", "loss.gamma=1.5", "configs/a.py", "--scan", ".", cwd=project)
    assert code == 2 and "--scan names the folder that --in-base searches" in out
    code, out = invoke("set", "loss.gamma=1.5", "configs/a.py", "--in-base", "--scan", "nowhere", cwd=project)
    assert code == 2 and "--scan nowhere: not a folder" in out


def test_project_root(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("repo/configs/retina/r.py", "")
    base = write("repo/configs/_base_/models/m.py", "")
    # Without a project marker: the folder that holds the config and the edited files.
    assert project_root(str(cfg), [str(base)]) == str(tmp_path / "repo" / "configs")
    assert project_root(str(base), [str(base)]) == str(tmp_path / "repo" / "configs")
    write("repo/.git", "gitdir: elsewhere\n")  # a worktree's .git is a file
    assert project_root(str(cfg), [str(base)]) == str(tmp_path / "repo")
    write("repo/configs/retina/pyproject.toml", "")
    assert project_root(str(cfg), [str(base)]) == str(tmp_path / "repo" / "configs" / "retina")


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Resolving a file called `slow.py` waits until the test ends."""
    release = threading.Event()

    class Slow(Resolver):
        def resolve(self, path: str | os.PathLike[str]) -> FileResult:
            if os.fspath(path).endswith("slow.py"):
                release.wait(30)
            return super().resolve(path)

    monkeypatch.setattr(inheritors, "Resolver", Slow)
    monkeypatch.setattr(inheritors, "SCAN_SECONDS", 2.0)
    yield release
    release.set()


def test_a_slow_file_costs_the_budget_and_the_edit_goes_on(
    project: Path, write: Callable[..., Path], stalled: threading.Event
) -> None:
    write("proj/configs/slow.py", "_base_ = './_base_/models/m.py'\n")
    write("proj/configs/zdeep/later.py", "_base_ = '../_base_/models/m.py'\n")
    code, out = invoke("set", "loss.gamma=1.5", "configs/a.py", "--in-base", cwd=project)
    assert code == 0, out
    # Nearest first: the configs beside a.py were checked before slow.py stalled the search.
    assert out == (
        "  model.loss.gamma: 2.0 -> 1.5\n"
        "  the edit changes 1 config(s) under the current folder:\n"
        "    configs/a.py\n"
        "  note: 2 more file(s) under . were not checked within the 2 s the search may take; "
        "name a smaller folder with --scan DIR\n"
        "  note: could not check configs/broken.py: `configs/broken.py` is not UTF-8 text: "
        "byte 0xff at line 2, column 9 (configs/broken.py:2)\n"
        "  note: could not check configs/slow.py: it took longer than the 2 s the search may take\n"
        "updated configs/_base_/models/m.py\n"
    )
    assert "gamma=1.5" in (project / "configs" / "_base_" / "models" / "m.py").read_text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_base_that_is_a_pipe_is_a_note(
    project: Path, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inheritors, "SCAN_SECONDS", 2.0)
    write("proj/configs/hang.py", "_base_ = './pipe.py'\n")
    pipe = project / "configs" / "pipe.py"
    os.mkfifo(pipe)
    try:
        code, out = invoke("set", "loss.gamma=1.5", "configs/a.py", "--in-base", "--dry-run", cwd=project)
    finally:
        with contextlib.suppress(OSError):  # let a reader that waits on the pipe go on
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    assert code == 0, out
    assert "  note: could not check configs/hang.py: " in out


def test_many_notes_are_cut_short_as_text(write: Callable[..., Path], tmp_path: Path) -> None:
    write("p/pyproject.toml", "")
    write("p/_base_/m.py", BASE)
    write("p/a.py", "_base_ = './_base_/m.py'\n")
    for i in range(12):
        write(f"p/bad{i:02}.py", "_base_ = './missing.py'\n")
    code, out = invoke("set", "loss.gamma=1.5", "a.py", "--in-base", "--dry-run", cwd=tmp_path / "p")
    notes = [line for line in out.splitlines() if line.startswith("  note: ")]
    assert code == 0 and len(notes) == 10
    assert notes[-1] == "  note: and 3 more file(s) could not be checked (--format json lists them all)"
    assert notes[0].startswith("  note: could not check bad00.py: the base config `missing.py` does not exist")


def test_the_library_call(project: Path) -> None:
    found = find_inheritors(
        str(project / "configs" / "a.py"), [str(project / "configs" / "_base_" / "models" / "m.py")]
    )
    assert found.root == str(project)
    assert found.configs == [str(project / "configs" / "a.py"), str(project / "configs" / "sub" / "b.yaml")]
    assert len(found.unchecked) == 1


def test_the_budget_is_documented() -> None:
    from typer.testing import CliRunner

    from losstune.cli.app import app

    stated = f"stops after {SCAN_SECONDS:g} s"
    help_text = CliRunner().invoke(app, ["set", "--help"], env={"COLUMNS": "200"}).stdout
    assert stated in " ".join(help_text.replace("│", " ").split())
    assert stated in " ".join((REPO / "README.md").read_text().split())


def test_a_sibling_project_is_not_searched(write: Callable[..., Path], tmp_path: Path) -> None:
    # The config's folder is the project: the folder above it holds other projects.
    write("proj/pyproject.toml", "")
    write("proj/_base_/m.py", BASE)
    write("proj/a.py", "_base_ = './_base_/m.py'\n")
    write("other/c.py", "_base_ = '../proj/_base_/m.py'\n")
    write("other/broken.py", "_base_ = './nowhere.py'\n")
    code, out = invoke("set", "loss.gamma=1.5", "a.py", "--in-base", "--dry-run", cwd=tmp_path / "proj")
    assert code == 0, out
    assert out.splitlines()[1:3] == ["  the edit changes 1 config(s) under the current folder:", "    a.py"]
    assert "other" not in out


def test_python_modules_that_only_mention_base_are_passed_over(write: Callable[..., Path], tmp_path: Path) -> None:
    write("p/pyproject.toml", "")
    write("p/_base_/m.py", BASE)
    write("p/a.py", "_base_ = './_base_/m.py'\n")
    write("p/tool.py", "import re\nPATTERN = re.compile('_base_')\ndef f():\n    _base_ = 1\n")
    write("p/lazy.py", "from x import y\nwith read_base():\n    from ._base_.m import *\nz = y()\n")
    code, out = invoke("set", "loss.gamma=1.5", "a.py", "--in-base", "--dry-run", cwd=tmp_path / "p")
    assert code == 0, out
    assert out.splitlines()[1:4] == [
        "  the edit changes 2 config(s) under the current folder:",
        "    a.py",
        "    lazy.py",
    ]
    assert "note:" not in out


def test_configs_that_inherit_the_base_but_replace_the_edited_value_are_counted_apart(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("proj/pyproject.toml", "[project]\nname = 'p'\n")
    write("proj/configs/_base_/models/m.py", BASE)
    write("proj/configs/a.py", "_base_ = './_base_/models/m.py'\n")
    write("proj/configs/b.py", "_base_ = './_base_/models/m.py'\nmodel = dict(loss=dict(gamma=1.0))\n")
    write(
        "proj/configs/c.py",
        "_base_ = './_base_/models/m.py'\nmodel = dict(loss=dict(_delete_=True, type='L1Loss'))\n",
    )
    project = tmp_path / "proj"
    code, out = invoke("set", "loss.gamma=1.5", "configs/a.py", "--in-base", "--dry-run", cwd=project)
    assert code == 0, out
    assert (
        "  the edit changes 1 config(s) under the current folder:\n"
        "    configs/a.py\n"
        "  2 other config(s) there inherit the edited base but resolve as before "
        "(they override what it changes; --format json lists them)\n"
    ) in out
    code, out = invoke(
        "set", "loss.gamma=1.5", "configs/a.py", "--in-base", "--dry-run", "--format", "json", cwd=project
    )
    report = json.loads(out)
    assert (report["affected"], report["unaffected"]) == (["configs/a.py"], ["configs/b.py", "configs/c.py"])


def test_by_name_resolves_only_the_files_that_name_an_inheritor_and_finds_the_same(
    project: Path, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("proj/configs/split.py", "_base_ = ['./_base_/models/o'\n          'ther.py']\n")
    write("proj/configs/dotted.py", "_base_ = './dotted.1x.py'\n")
    write("proj/configs/dotted.1x.py", "_base_ = './a.py'\n")
    write("proj/configs/unrelated.py", "_base_ = './plain.py'\n")
    base = str(project / "configs/_base_/models/m.py")
    resolved: list[str] = []
    original = Resolver.resolve

    def resolve(self: Resolver, path: str) -> FileResult:
        resolved.append(os.path.relpath(path, project))
        return original(self, path)

    monkeypatch.setattr(Resolver, "resolve", resolve)
    everything = find_inheritors(base, [base])
    every_file = sorted(set(resolved))
    resolved.clear()
    by_name = find_inheritors(base, [base], by_name=True)
    assert by_name.configs == everything.configs
    assert [os.path.relpath(c, project) for c in by_name.configs] == [
        "configs/a.py",
        "configs/dotted.1x.py",
        "configs/dotted.py",
        "configs/split.py",
        "configs/sub/b.yaml",
    ]
    assert "configs/unrelated.py" in every_file and "configs/unrelated.py" not in resolved
    # A broken file is a note where it names the base (it may inherit it), not where it names none.
    assert by_name.unchecked == [u for u in everything.unchecked if "unrelated.py" not in u]
    assert any("broken.py" in u for u in by_name.unchecked)


def test_project_root_is_below_a_folder_the_walk_does_not_enter(write: Callable[..., Path], tmp_path: Path) -> None:
    write("repo/.git/HEAD", "ref: refs/heads/main\n")
    config = write("repo/.projects/mmdet/.mim/configs/_base_/models/m.py", BASE)
    assert project_root(str(config), [str(config)]) == str(tmp_path / "repo/.projects/mmdet/.mim")
    plain = write("repo/configs/_base_/m.py", BASE)
    assert project_root(str(plain), [str(plain)]) == str(tmp_path / "repo")


@pytest.mark.parametrize(
    "text",
    [
        b"_base_ = ['./_base_/models/retinanet_r50_fpn.py', '../x-y/gamma1.5_1x.py']\n",
        b"_base_ = './a_' 'b.py'\nfrom .c_d import *\n",
        "_base_ = './réseau.py'  # noqa\tx\x0bz\x85w\xa0v\n".encode() + b"\xff\x80end",
    ],
)
def test_the_words_of_a_text_are_those_the_word_pattern_finds(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "c.py"
    path.write_bytes(text)
    names = inheritors._Names([str(path)], {})
    kept = names.texts[str(path)]
    assert kept is not None
    assert names._words_of(str(path), kept) == set(inheritors._WORD.findall(kept))

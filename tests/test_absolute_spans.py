"""Spans hold absolute paths whatever the working directory, and only a renderer shows them
relative to it: a config loaded from one folder, kept in the process-wide cache, is shown right
from another."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

import losstune
from losstune.loader import filecache, frontend
from losstune.loader.filecache import PROCESS_CACHE
from losstune.loader.resolve import Resolver
from tests.conftest import REPO, invoke

BASE = "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"
OLD = "_deprecation_ = dict(expected='new.py')\nx = 1\n"
CHILD = "_base_ = ['./_base_/m.py', './_base_/old.py']\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma=1.5)))\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``tmp_path/proj``: a config inheriting a model and a deprecated base, all older than the
    cache's racy window (so a kept parse is trusted by its stamp alone)."""
    root = tmp_path / "proj"
    (root / "_base_").mkdir(parents=True)
    for name, text in {"_base_/m.py": BASE, "_base_/old.py": OLD, "cfg.py": CHILD}.items():
        (root / name).write_text(text)
        os.utime(root / name, (1_000_000_000, 1_000_000_000))
    return root


def test_load_gives_absolute_spans_from_any_working_directory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    here = losstune.load("cfg.py", strict=False)
    monkeypatch.chdir(tmp_path)
    there = losstune.load(str(project / "cfg.py"), strict=False)
    for cfg in (here, there):
        gamma = cfg.origin("model.bbox_head.loss_cls.gamma")
        typed = cfg.origin("model.bbox_head.loss_cls.type")
        assert (gamma.span.file, gamma.span.line) == (str(project / "cfg.py"), 2)
        assert (typed.span.file, typed.span.line) == (str(project / "_base_" / "m.py"), 1)
        [deprecated] = [d for d in cfg.diagnostics if d.code == "LT015"]
        assert deprecated.span is not None and deprecated.span.file == str(project / "_base_" / "old.py")
        assert deprecated.message.startswith(f"`{project / '_base_' / 'old.py'}` will be deprecated")


def test_a_symbolic_link_keeps_its_own_path(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "link.py").symlink_to(project / "cfg.py")
    monkeypatch.chdir(tmp_path)
    cfg = losstune.load("link.py", strict=False)
    assert cfg.origin("model.bbox_head.loss_cls.gamma").span.file == str(tmp_path / "link.py")


def test_the_process_cache_serves_one_working_directory_to_another(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = invoke("lint", "cfg.py", cwd=project)
    assert code == 0 and "_base_/old.py\n  1:17  warning  LT015" in out
    assert "`_base_/old.py` will be deprecated" in out

    made: list[str] = []

    class Counted(frontend.ParsedFile):
        def __init__(self, abspath: str, text: str) -> None:
            made.append(abspath)
            super().__init__(abspath, text)

    monkeypatch.setattr(filecache, "ParsedFile", Counted)
    code, there = invoke("lint", "proj/cfg.py", cwd=tmp_path)
    assert made == []  # every file, and the resolved bases, came from the cache
    assert code == 0 and "proj/_base_/old.py\n  1:17  warning  LT015" in there
    assert "`proj/_base_/old.py` will be deprecated" in there
    assert there == out.replace("_base_/old.py", "proj/_base_/old.py")
    assert PROCESS_CACHE.results_kept() > 0


def test_a_cycle_names_each_file_as_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("_base_ = './b.py'\n")
    (tmp_path / "b.py").write_text("_base_ = './a.py'\n")
    result = Resolver().resolve(tmp_path / "a.py")
    [cycle] = [d for d in result.diagnostics if d.code == "LT007"]
    assert str(tmp_path / "b.py") in cycle.message and cycle.files
    code, out = invoke("lint", "a.py", cwd=tmp_path)
    assert code == 1 and "configs inherit from each other in a loop: a.py -> b.py -> a.py" in out
    code, out = invoke("lint", "a.py", "--format", "sarif", cwd=tmp_path)
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["message"]["text"].startswith("configs inherit from each other in a loop: a.py -> b.py -> a.py")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "b.py"


def test_the_loader_knows_nothing_of_presentation() -> None:
    import losstune.loader.resolve as resolve

    assert not hasattr(resolve, "display_path")
    for path in sorted((REPO / "losstune" / "loader").glob("*.py")):
        calls = [
            node.func.attr
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        ]
        assert "relpath" not in calls, path.name


def test_findings_are_listed_in_the_order_of_their_paths_as_shown(tmp_path: Path) -> None:
    # Shown, the base outside the working directory is absolute and sorts before `cfg.py`;
    # absolute, `.../proj/cfg.py` would sort before `.../zzz/old.py`.
    (tmp_path / "proj").mkdir()
    (tmp_path / "zzz").mkdir()
    (tmp_path / "zzz" / "old.py").write_text(OLD)
    (tmp_path / "proj" / "cfg.py").write_text("_base_ = '../zzz/old.py'\n" + OLD)
    old = str(tmp_path / "zzz" / "old.py")
    code, out = invoke("lint", "cfg.py", cwd=tmp_path / "proj")
    assert code == 0 and out.index(f"{old}\n") < out.index("cfg.py\n")
    code, out = invoke("lint", "cfg.py", "--format", "json", cwd=tmp_path / "proj")
    assert [d["file"] for d in json.loads(out)["diagnostics"]] == [old, "cfg.py"]


def test_a_finding_caused_by_the_child_is_at_its_line_from_the_project_folder(tmp_path: Path) -> None:
    # Which file is nearest the linted config is decided on absolute paths, whatever the
    # working directory (shown paths never matched the config's absolute list of files).
    (tmp_path / "_base_").mkdir()
    (tmp_path / "_base_" / "m.py").write_text(
        "model = dict(type='MaskRCNN', roi_head=dict(type='StandardRoIHead', bbox_head=dict("
        "type='Shared2FCBBoxHead', num_classes=1203, loss_cls=dict(type='SeesawLoss', num_classes=1203))))\n"
    )
    (tmp_path / "child.py").write_text(
        "_base_ = './_base_/m.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=80)))\n"
    )
    code, out = invoke("lint", "child.py", cwd=tmp_path)
    assert code == 1 and out.startswith("child.py\n  2:55  error  LT115")
    assert "(set in _base_/m.py:1)" in out and "see: _base_/m.py:1: SeesawLoss's `num_classes=1203`" in out


def test_a_message_shows_each_file_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from losstune.model import Diagnostic, Severity
    from losstune.render.paths import message

    a, longer, outside = str(tmp_path / "a.py"), str(tmp_path / "a.py.py"), "/elsewhere/b.py"
    d = Diagnostic("LT007", "x", Severity.ERROR, f"{a} -> {longer} -> {outside} -> {a}", files=(a, longer, outside))
    monkeypatch.chdir(tmp_path)
    assert message(d) == "a.py -> a.py.py -> /elsewhere/b.py -> a.py"
    monkeypatch.chdir(tmp_path.parent)
    assert message(d) == f"{tmp_path.name}/a.py -> {tmp_path.name}/a.py.py -> /elsewhere/b.py -> {tmp_path.name}/a.py"
    assert message(Diagnostic("LT007", "x", Severity.ERROR, f"{a} is named, not listed")) == f"{a} is named, not listed"

"""Packages named by `pkg::` bases and new-style imports are found on disk, as Python's import system
would find them, and never imported: every package here writes a marker file when it is imported."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from losstune.loader.pkgfind import NotFound, PackageFinder
from losstune.loader.resolve import Resolver
from tests.conftest import REPO

MODEL = "model = dict(type='RetinaNet', head=dict(type='H', loss=dict(type='FocalLoss', gamma=2.0)))\n"


def _package(folder: Path, name: str, marker: Path) -> None:
    """``folder/name``: a package and a sub-package that write ``marker`` when imported, each with
    mmengine-style configs under ``.mim/configs`` and a new-style config module."""
    for pkg in (folder / name, folder / name / "sub"):
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write({pkg.name!r})\n")
        (pkg / ".mim" / "configs" / "models").mkdir(parents=True)
        gamma = "3.0" if pkg.name == "sub" else "2.0"
        (pkg / ".mim" / "configs" / "models" / "m.py").write_text(MODEL.replace("2.0", gamma))
        (pkg / "configs").mkdir()
        (pkg / "configs" / "newstyle.py").write_text("loss = dict(type='L1Loss', where=__file__ is not None)\n")


def _dist_info(site: Path, dist: str, top_level: str, **extra: str) -> Path:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "top_level.txt").write_text(f"{top_level}\n")
    for name, text in extra.items():
        (info / name).write_text(text)
    return info


def _setuptools_editable(site: Path, dist: str, mapping: dict[str, str], namespaces: dict[str, list[str]]) -> None:
    """The files setuptools (>= 64) writes for ``pip install -e`` of a flat layout."""
    safe = dist.replace("-", "_")
    _dist_info(site, dist, "\n".join(mapping), **{"direct_url.json": '{"dir_info": {"editable": true}}'})
    (site / f"__editable__.{safe}-1.0.pth").write_text(
        f"import __editable___{safe}_1_0_finder; __editable___{safe}_1_0_finder.install()"
    )
    (site / f"__editable___{safe}_1_0_finder.py").write_text(
        "import sys\n"
        f"open({str(site / 'FINDER-IMPORTED')!r}, 'w')\n"
        f"MAPPING: dict[str, str] = {mapping!r}\n"
        f"NAMESPACES: dict[str, list[str]] = {namespaces!r}\n"
        f"PATH_PLACEHOLDER = '__editable__.{safe}-1.0.finder' + \".__path_hook__\"\n"
        "def install():\n    sys.meta_path.append(object())\n"
    )


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """One package per way of being installed, all named differently, and a marker none may write."""
    marker = tmp_path / "IMPORTED"
    site, src, pypath = tmp_path / "site", tmp_path / "src", tmp_path / "pypath"
    # A normal install: the package and its dist-info in site-packages.
    _package(site, "normalpkg", marker)
    _dist_info(site, "normal-pkg", "normalpkg")
    # On PYTHONPATH (or the current folder): just a folder.
    _package(pypath, "pathpkg", marker)
    # setuptools' modern editable install: a finder module that maps the name to the source folder.
    _package(src / "flat", "editpkg", marker)
    _setuptools_editable(site, "edit-pkg", {"editpkg": str(src / "flat" / "editpkg")}, {})
    # The old kind (setup.py develop, and src layouts today): a path line in a .pth file.
    _package(src / "legacy", "legacypkg", marker)
    (src / "legacy" / "legacypkg.egg-info").mkdir()
    (src / "legacy" / "legacypkg.egg-info" / "top_level.txt").write_text("legacypkg\n")
    (site / "legacypkg.egg-link").write_text(f"{src / 'legacy'}\n.\n")
    (site / "easy-install.pth").write_text(f"# a comment\nimport os; open({str(marker)!r}, 'w')\n{src / 'legacy'}\n")
    # The `editables` redirector (hatchling's dev-mode-exact, pdm): map_module calls.
    _package(src / "redirected", "redirpkg", marker)
    (site / "_redirpkg.pth").write_text("import _redirpkg")
    (site / "_redirpkg.py").write_text(
        f"from editables.redirector import RedirectingFinder as F\nopen({str(marker)!r}, 'w')\nF.install()\n"
        f"F.map_module('redirpkg', {str(src / 'redirected' / 'redirpkg' / '__init__.py')!r})\n"
    )
    finder = PackageFinder(path=[str(pypath), str(site)], site_dirs=[str(site)])
    return {"finder": finder, "marker": marker, "site": site, "src": src, "pypath": pypath}


LAYOUTS = ["normalpkg", "pathpkg", "editpkg", "legacypkg", "redirpkg"]


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("nested", [False, True])
def test_package_bases_resolve_without_importing_the_package(
    world: dict[str, Any], write: Callable[..., Path], name: str, nested: bool
) -> None:
    package = f"{name}.sub" if nested else name
    child = write("child.py", f"_base_ = '{package}::models/m.py'\nmodel = dict(head=dict(x=1))\n")
    result = Resolver(packages=world["finder"]).resolve(child)
    assert result.ok, result.diagnostics
    assert result.cfg is not None
    gamma = 3.0 if nested else 2.0
    assert result.cfg["model"]["head"] == {"type": "H", "loss": {"type": "FocalLoss", "gamma": gamma}, "x": 1}
    assert result.cfg["model"]["_scope_"] == package
    assert not world["marker"].exists()
    assert not (world["site"] / "FINDER-IMPORTED").exists()


@pytest.mark.parametrize("name", LAYOUTS)
def test_new_style_bases_in_packages_resolve_without_importing_them(
    world: dict[str, Any], write: Callable[..., Path], name: str
) -> None:
    child = write("child.py", f"with read_base():\n    from {name}.configs.newstyle import *\n")
    result = Resolver(packages=world["finder"]).resolve(child)
    assert result.ok, result.diagnostics
    assert result.cfg is not None and result.cfg["loss"] == {"type": "L1Loss", "where": True}
    assert not world["marker"].exists()


def test_where_each_layout_is_found(world: dict[str, Any]) -> None:
    finder: PackageFinder = world["finder"]
    site, src, pypath = world["site"], world["src"], world["pypath"]
    assert finder.installed_path("normalpkg") == str(site / "normalpkg")
    assert finder.installed_path("pathpkg") == str(pypath / "pathpkg")
    assert finder.installed_path("editpkg") == str(src / "flat" / "editpkg")
    assert finder.installed_path("legacypkg") == str(src / "legacy" / "legacypkg")
    assert finder.installed_path("redirpkg") == str(src / "redirected" / "redirpkg")
    assert finder.installed_path("editpkg.sub") == str(src / "flat" / "editpkg" / "sub")
    found = finder.find("redirpkg.sub")
    assert found.origin == str(src / "redirected" / "redirpkg" / "sub" / "__init__.py")
    assert not world["marker"].exists()


def test_import_lines_of_pth_files_are_never_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "RAN"
    (site / "hook.pth").write_text(f"import os; os.system('touch {marker}')\nimport hookmod\n")
    (site / "hookmod.py").write_text(f"open({str(marker)!r}, 'w')\nMAPPING = {{'x': '/nowhere'}}\n")
    finder = PackageFinder(path=[str(site)], site_dirs=[str(site)])
    with pytest.raises(NotFound):
        finder.find("x")
    assert not marker.exists()


def test_namespace_packages(tmp_path: Path) -> None:
    marker = tmp_path / "IMPORTED"
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "ns").mkdir(parents=True)
    _package(two / "ns", "inner", marker)
    finder = PackageFinder(path=[str(one), str(two)], site_dirs=[])
    found = finder.find("ns")
    assert found.origin is None and found.locations == (str(one / "ns"), str(two / "ns"))
    assert finder.installed_path("ns.inner") == str(two / "ns" / "inner")
    with pytest.raises(NotFound, match="namespace package"):
        finder.installed_path("ns")
    assert not marker.exists()


def test_editable_namespace_packages(tmp_path: Path) -> None:
    # setuptools maps a namespace package (no __init__.py) through a path placeholder.
    marker = tmp_path / "IMPORTED"
    site, src = tmp_path / "site", tmp_path / "src"
    site.mkdir()
    (src / "other" / "nsx").mkdir(parents=True)
    _package(src / "other" / "nsx", "deep", marker)
    folder = str(src / "other" / "nsx")
    _setuptools_editable(site, "ns-dist", {"nsx": folder}, {"nsx": [folder]})
    finder = PackageFinder(path=[str(site)], site_dirs=[str(site)])
    found = finder.find("nsx")
    assert found.origin is None and found.locations[0] == folder
    assert finder.installed_path("nsx.deep") == os.path.join(folder, "deep")
    assert not marker.exists()


def test_a_module_is_not_a_package_and_nothing_is_imported(capsys: pytest.CaptureFixture[str]) -> None:
    finder = PackageFinder()
    with pytest.raises(NotFound, match=r"`this` is a module \(`.*this\.py`\), not a package, so it has no `x`"):
        finder.find("this.x")
    with pytest.raises(NotFound, match="built into the Python interpreter"):
        finder.installed_path("sys")
    assert finder.find("sys").origin == "built-in"
    assert finder.installed_path("antigravity") == os.path.dirname(finder.find("antigravity").origin or "")
    with pytest.raises(NotFound, match="not a Python module name"):
        finder.find("my-pkg")
    out = capsys.readouterr()
    assert out.out == out.err == ""
    assert "this" not in sys.modules and "antigravity" not in sys.modules


def test_the_path_finder_order(tmp_path: Path) -> None:
    # Earlier path entries win; in one folder a package wins over a module of the same name, and a
    # module wins over a namespace portion even when the portion's folder comes first.
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "ns").mkdir(parents=True)
    (a / "both").mkdir()
    (a / "both" / "__init__.py").write_text("")
    (a / "both.py").write_text("")
    b.mkdir()
    (b / "ns.py").write_text("")
    (b / "both.py").write_text("")
    finder = PackageFinder(path=[str(a), str(b)], site_dirs=[])
    assert finder.find("both").origin == str(a / "both" / "__init__.py")
    assert finder.find("ns").origin == str(b / "ns.py")


def test_a_distribution_is_found_first_as_mmengine_finds_it(tmp_path: Path) -> None:
    # mmengine's get_installed_path asks pkg_resources before the import system: an installed
    # distribution wins over a folder of the same name earlier on the path.
    marker = tmp_path / "IMPORTED"
    cwd, site = tmp_path / "cwd", tmp_path / "site"
    _package(cwd, "mmfoo", marker)
    _package(site, "mmfoo", marker)
    _dist_info(site, "mmfoo", "mmfoo")
    _package(site, "mmseg", marker)
    _dist_info(site, "mmsegmentation", "mmseg")
    _package(cwd, "onlyhere", marker)
    finder = PackageFinder(path=[str(cwd), str(site)], site_dirs=[str(site)])
    ours = {n: finder.installed_path(n) for n in ("mmfoo", "mmsegmentation", "mmseg", "onlyhere")}
    assert ours == {
        "mmfoo": str(site / "mmfoo"),
        "mmsegmentation": str(site / "mmseg"),
        "mmseg": str(site / "mmseg"),
        "onlyhere": str(cwd / "onlyhere"),
    }
    pytest.importorskip("mmengine")
    if importlib.util.find_spec("pkg_resources") is None:
        pytest.skip("needs pkg_resources for mmengine's get_installed_path: install a setuptools that still ships it")
    code = (
        "import json, sys, warnings; warnings.simplefilter('ignore');"
        "from mmengine.utils import get_installed_path;"
        "print(json.dumps({n: get_installed_path(n) for n in sys.argv[1:]}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(site)])}
    out = subprocess.run(
        [sys.executable, "-c", code, *ours], capture_output=True, text=True, check=True, env=env, cwd=REPO
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ours
    assert not marker.exists()


def test_new_style_imports_of_stdlib_modules_run_nothing(
    write: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write("cfg.py", "import this\nimport antigravity\nwith read_base():\n    from this.x import *\nx = 1\n")
    result = Resolver().resolve(cfg)
    [missing] = [d for d in result.diagnostics if d.code == "LT006"]
    # As mmengine does: `this` is found (never imported) and `x.py` looked for beside `this.py`.
    assert "the base config module `this.x` was not found" in missing.message
    assert missing.span is not None and missing.span.line == 4
    out = capsys.readouterr()
    assert out.out == out.err == ""
    assert "this" not in sys.modules and "antigravity" not in sys.modules

"""A config is read, never run: code with side effects in it has no effect."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import losstune
from losstune.loader.resolve import Resolver
from tests.conftest import EXAMPLES, REPO


def test_side_effects_in_a_config_never_happen(write: Callable[..., Path], tmp_path: Path) -> None:
    markers = [tmp_path / f"marker{i}" for i in range(8)]
    cfg = write(
        "cfg.py",
        f"""
        _base_ = []
        import subprocess
        import os
        __import__('os').system('touch {markers[0]}')
        subprocess.run(['touch', '{markers[1]}'])
        open('{markers[2]}', 'w').write('x')
        os.system('touch {markers[3]}')
        eval("__import__('os').system('touch {markers[4]}')")
        exec("open('{markers[5]}', 'w')")
        escape = ().__class__.__bases__[0].__subclasses__()
        def f():
            open('{markers[6]}', 'w')
        f()
        custom_imports = dict(imports=['os'], allow_failed_imports=False)
        with_lambda = (lambda: open('{markers[7]}', 'w'))()
        loss = dict(type='FocalLoss', gamma=2.0)
        """,
    )
    result = Resolver().resolve(cfg)
    assert not [m for m in markers if m.exists()]
    assert result.cfg is not None
    assert result.cfg["loss"] == {"type": "FocalLoss", "gamma": 2.0}
    # custom_imports is recorded as data, not imported.
    assert result.cfg["custom_imports"] == {"imports": ["os"], "allow_failed_imports": False}
    warned = sorted({d.span.line for d in result.diagnostics if d.code == "LT010" and d.span})
    assert warned == [2, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15]


def test_import_and_load_do_not_import_torch() -> None:
    code = (
        "import sys, losstune; "
        f"losstune.load({str(EXAMPLES / 'retinanet_r50_fpn_1x_coco.py')!r}).losses(); "
        "print(sorted(m for m in ('torch', 'numpy', 'mmengine', 'mmdet') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_api_loads_without_strict(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "_base_ = './missing.py'\nloss = dict(type='L1Loss')\n")
    loaded = losstune.load(cfg, strict=False)
    assert loaded.get("loss.type") == "L1Loss"
    assert [d.code for d in loaded.diagnostics] == ["LT006"]


def test_resource_bombs_are_refused_not_computed(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        a = 10 ** 10 ** 10
        b = 'x' * 10 ** 9
        c = pow(2, 10 ** 9)
        d = 'x'.zfill(10 ** 9)
        e = list(range(10 ** 9))
        f = [0] * 10 ** 9
        g = 2.0 ** 1e6
        ok = dict(type='L1Loss')
        """,
    )
    result = Resolver().resolve(cfg)
    assert result.cfg is not None and result.cfg["ok"] == {"type": "L1Loss"}
    bad = {d.span.line for d in result.diagnostics if d.span}
    assert bad == {1, 2, 3, 4, 5, 6, 7}


def test_absurd_nesting_is_a_diagnostic(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    result = Resolver().resolve(cfg)
    assert [d.code for d in result.diagnostics] == ["LT001"]


def _lint_json(cfg: Path, cwd: Path, pythonpath: list[Path] | None = None) -> tuple[int, dict[str, Any], str]:
    """``python -m losstune lint --format json cfg`` in ``cwd``: exit code, the parsed JSON, stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in [REPO, *(pythonpath or [])])}
    out = subprocess.run(
        [sys.executable, "-m", "losstune", "lint", "--format", "json", str(cfg)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    return out.returncode, json.loads(out.stdout), out.stderr


def _evil_package(folder: Path, marker: Path) -> None:
    for pkg in (folder / "evilpkg", folder / "evilpkg" / "sub"):
        (pkg / ".mim" / "configs" / "models").mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"import os\nos.system('touch {marker}')\nprint('imported!')\n")
        (pkg / ".mim" / "configs" / "models" / "m.py").write_text("model = dict(type='RetinaNet')\n")


def test_a_stdlib_module_named_as_a_package_is_not_imported(tmp_path: Path) -> None:
    # `import this` prints the Zen of Python: finding `this.x` must not import `this`.
    cfg = tmp_path / "cfg.py"
    cfg.write_text("_base_ = 'this.x::y.py'\nmodel = dict(a=1)\n")
    code, report, err = _lint_json(cfg, tmp_path)
    assert code == 1 and "Zen" not in err
    [finding] = report["diagnostics"]
    assert finding["code"] == "LT006" and "`this` is a module" in finding["message"]
    assert "not a package, so it has no `x`" in finding["message"]


@pytest.mark.parametrize("where", ["cwd", "pythonpath"])
@pytest.mark.parametrize("package", ["evilpkg", "evilpkg.sub"])
def test_a_package_on_the_path_is_found_and_never_imported(tmp_path: Path, where: str, package: str) -> None:
    marker = tmp_path / "MARKER"
    home = tmp_path / "project" if where == "cwd" else tmp_path / "libs"
    _evil_package(home, marker)
    cfg = tmp_path / "project" / "cfg.py"
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(f"_base_ = '{package}::models/m.py'\n")
    code, report, err = _lint_json(cfg, cfg.parent, [home] if where == "pythonpath" else None)
    assert not marker.exists()
    assert (code, report["diagnostics"], err) == (0, [], "")


def test_a_real_editable_install_is_found_and_never_imported(tmp_path: Path) -> None:
    # `pip install -e` of a flat layout: setuptools' finder maps the package to its source folder;
    # the interpreter installs that finder at start-up, losstune reads it and imports nothing.
    if importlib.util.find_spec("pip") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("needs pip and setuptools to make an editable install")
    marker = tmp_path / "MARKER"
    project = tmp_path / "project"
    _evil_package(project, marker)
    (project / "evilpkg" / "configs").mkdir()
    (project / "evilpkg" / "configs" / "base.py").write_text("loss = dict(type='L1Loss')\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "evil-pkg"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["evilpkg", "evilpkg.sub", "evilpkg.configs"]\n'
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    pip = [sys.executable, "-m", "pip", "install", "-q", *offline, "--prefix", str(venv), "-e", str(project)]
    subprocess.run(pip, check=True, capture_output=True)
    [site_dir] = venv.glob("lib/python*/site-packages")
    assert [p.name for p in site_dir.glob("__editable___*_finder.py")] == ["__editable___evil_pkg_1_0_finder.py"]
    (site_dir / "losstune-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "classic.py").write_text("_base_ = 'evilpkg.sub::models/m.py'\n")
    (configs / "newstyle.py").write_text("with read_base():\n    from evilpkg.configs.base import *\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for cfg, base in [
        ("classic.py", project / "evilpkg" / "sub" / ".mim" / "configs" / "models" / "m.py"),
        ("newstyle.py", project / "evilpkg" / "configs" / "base.py"),
    ]:
        out = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "losstune", "explain", "--no-steps", "--format", "json", cfg],
            capture_output=True,
            text=True,
            cwd=configs,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["files"] == [cfg, str(base)]
    assert not marker.exists()

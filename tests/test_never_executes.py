"""A config is read, never run: code with side effects in it has no effect."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import losstune
from losstune.resolve import Resolver
from tests.conftest import EXAMPLES


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

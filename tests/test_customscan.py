"""What the modules of `custom_imports` could register, told from their texts: never no where
reading them finds a registration, and a lint that reads none of them where no answer depends on
them gives the findings of one that reads them all."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losstune.lint.run import lint
from losstune.lint.settings import Settings
from losstune.loader import customimports, customscan, fileread
from losstune.loader.customimports import read_custom_imports
from losstune.loader.customscan import ModuleTexts, scan
from losstune.schema.registry import load_schema
from tests.test_customimports import REGISTER_FORMS

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / ".projects"


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _both(root: Path, *imports: str) -> tuple[customimports.CustomModules, ModuleTexts | None]:
    value = {"imports": list(imports)}
    config = str(root / "configs" / "cfg.py")
    return read_custom_imports(value, config, path=[str(root)]), scan(value, config, path=[str(root)])


def _own(root: Path, registry_import: str) -> None:
    """The package `own`, whose one module registers `OwnLoss` in the registry it imports."""
    _tree(
        root,
        {
            "own/__init__.py": "from .losses import *\n",
            "own/losses.py": f"{registry_import}\n\n\n@MODELS.register_module()\n"
            "class OwnLoss:\n    def __init__(self, loss_weight=1.0):\n        pass\n",
        },
    )


def _registered(found: customimports.CustomModules) -> set[tuple[str, str]]:
    return {(c.scope, n) for c in found.classes for n in c.names}


TRICKY_FORMS = {
    "tricky/__init__.py": "from .forms import *\nfrom . import sub\n",
    "tricky/forms.py": r"""
        from mmengine.registry import Registry
        from mmdet.registry import MODELS
        OTHER = Registry('model', scope='far' 'away')
        ESCAPED = Registry('model', scope='esc\x61ped')


        @MODELS.register_module(name='Esc\x61pedLoss')
        class A:
            pass


        @MODELS.register_module('Pie' 'cesLoss', force=True)
        class B:
            pass


        @OTHER.register_module()
        class C:
            pass


        @ESCAPED.register_module(name=['One', 'Tw\u006f'])
        class D:
            pass


        class ﬁLoss:
            pass


        MODELS.register_module(module=ﬁLoss)
        MODELS.register_module()(A)
        """,
    "tricky/sub/__init__.py": "from ..forms import MODELS\n\n@MODELS.register_module\nclass Bare:\n    pass\n",
}


@pytest.mark.parametrize(("files", "named"), [(REGISTER_FORMS, ("proj.losses",)), (TRICKY_FORMS, ("tricky",))])
def test_every_registration_is_seen_in_the_texts(tmp_path: Path, files: dict[str, str], named: tuple[str]) -> None:
    _tree(tmp_path, files)
    found, texts = _both(tmp_path, *named)
    registered = _registered(found)
    assert len(registered) >= 6, registered  # the forms are read, so the check below is not empty
    assert texts is not None
    assert [pair for pair in sorted(registered) if not texts.may_register(*pair)] == []
    assert all(texts.may_register(scope) for scope, _ in registered)
    # and no for what no module could register
    assert not texts.may_register("mmdet", "NoSuchLoss") or any(f.any_name for f in texts.registering)
    assert not texts.may_register("nowhere", "A") or any(f.any_scope for f in texts.registering)


def test_what_no_module_could_register_is_no(tmp_path: Path) -> None:
    _own(tmp_path, "from own.registry import MODELS  # FocalLoss is MMDetection's; this one is ours")
    _tree(tmp_path, {"own/registry.py": "from mmengine.registry import MODELS as ROOT\n"})
    found, texts = _both(tmp_path, "own")
    assert _registered(found) == {("own", "OwnLoss")}
    assert texts is not None
    assert texts.may_register("own", "OwnLoss") and texts.may_register("own")
    assert not texts.may_register("mmdet", "FocalLoss")  # written, but not in a scope it could reach
    assert texts.may_register("own", "FocalLoss")  # written in a module of that scope: it could be
    assert not texts.may_register("own", "GIoULoss")
    assert not texts.may_register("mmdet")


_SCOPES = st.sampled_from(["mmdet", "mmyolo", "gen", "far"])
_NAMES = st.sampled_from(["FocalLoss", "GenLoss", "Other", "Loss2"])


@st.composite
def _module(draw: st.DrawFn, index: int) -> str:
    """A module of the package `gen` with registrations of every kind the reader knows."""
    lines = ["from mmengine.registry import Registry"]
    registries = []
    for i in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["import", "local", "scoped", "relative"]))
        if how == "import":
            lines.append(f"from {draw(_SCOPES)}.registry import MODELS as R{i}")
        elif how == "local":
            lines.append(f"R{i} = Registry('model')")
        elif how == "scoped":
            scope = draw(_SCOPES)
            written = draw(
                st.sampled_from(
                    [
                        repr(scope),
                        f"'{scope[:1]}' '{scope[1:]}'",
                        repr(scope).replace(scope[0], f"\\x{ord(scope[0]):02x}", 1),
                    ]
                )
            )
            lines.append(f"R{i} = Registry('model', scope={written})")
        else:
            lines.append(f"from .m{index - 1} import R0 as R{i}" if index else f"R{i} = Registry('model')")
        registries.append(f"R{i}")
    for j in range(draw(st.integers(0, 3))):
        registry = draw(st.sampled_from(registries))
        name = draw(_NAMES)
        form = draw(st.sampled_from(["class", "name", "pieces", "escaped", "list", "call"]))
        cls = f"C{index}_{j}" if form != "class" else name
        if form == "call":
            lines += [f"class {cls}:", "    pass", f"{registry}.register_module(name={name!r}, module={cls})"]
            continue
        args = {
            "class": "",
            "name": f"name={name!r}",
            "pieces": f"'{name[:2]}' '{name[2:]}'",
            "escaped": "name=" + repr(name).replace(name[1], f"\\x{ord(name[1]):02x}", 1),
            "list": f"name=[{name!r}, 'Spare{j}']",
        }[form]
        lines += [f"@{registry}.register_module({args})", f"class {cls}:", "    pass"]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(modules=st.integers(1, 3).flatmap(lambda n: st.tuples(*(_module(i) for i in range(n)))))
def test_generated_registrations_are_never_missed(
    tmp_path_factory: pytest.TempPathFactory, modules: tuple[str, ...]
) -> None:
    root = tmp_path_factory.mktemp("gen")
    files = {"gen/__init__.py": "".join(f"from .m{i} import *\n" for i in range(len(modules)))}
    files.update({f"gen/m{i}.py": text for i, text in enumerate(modules)})
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    found, texts = _both(root, "gen")
    assert texts is not None
    missed = [pair for pair in _registered(found) if not texts.may_register(*pair)]
    assert missed == [], (missed, modules)


def test_files_that_cannot_be_bounded_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"big/__init__.py": "from .a import *\n", "big/a.py": "x = 1\n" * 100})
    config = str(tmp_path / "cfg.py")
    value = {"imports": ["big"]}
    assert scan(value, config, path=[str(tmp_path)]) is not None
    with fileread.limit(100):  # a module too big to read: reading the modules says so
        assert scan(value, config, path=[str(tmp_path)]) is None
    monkeypatch.setattr(customscan, "MAX_SCANNED", 1)
    assert scan(value, config, path=[str(tmp_path)]) is None
    monkeypatch.setattr(customscan, "MAX_SCANNED", 100)
    monkeypatch.setattr(customscan.PackageFinder, "maps", lambda self, top: top == "big")
    assert scan(value, config, path=[str(tmp_path)]) is None  # an editable install's hook maps it


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not hasattr(os, "symlink"), reason="needs pipes and links")
def test_pipes_and_loops_of_links_end(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {"odd/__init__.py": "from . import pipe, again\n", "odd/loss.py": "@R.register_module()\nclass X: pass\n"},
    )
    os.mkfifo(tmp_path / "odd" / "pipe.py")
    os.symlink(tmp_path / "odd", tmp_path / "odd" / "again")
    texts = scan({"imports": ["odd"]}, str(tmp_path / "cfg.py"), path=[str(tmp_path)])
    assert texts is not None
    assert len(texts.registering) == 1  # loss.py, once though a link leads back to its folder
    assert texts.may_register("odd", "X") and not texts.may_register("odd", "Y")


CONFIG = """
custom_imports = dict(imports=['{package}'])
model = dict(bbox_head=dict(
    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0, {extra}),
    loss_bbox=dict(type='{box}', loss_weight=2.0)))
"""


def _lint(folder: Path, monkeypatch: pytest.MonkeyPatch, deferred: bool) -> tuple[list[str], int]:
    reads: list[str] = []
    read = customimports.read_custom_imports

    def counted(value: object, config_path: str) -> customimports.CustomModules:
        reads.append(config_path)
        return read(value, config_path)

    with monkeypatch.context() as m:
        m.setattr(customimports, "read_custom_imports", counted)
        if not deferred:
            m.setattr(customscan, "scan", lambda *a, **k: None)
        result = lint([str(folder)], load_schema(), Settings(), jobs=1)
    return [f"{d.code} {d.span.line if d.span else 0} {d.message}" for d in result.diagnostics], len(reads)


@pytest.mark.parametrize(
    ("extra", "box", "read_when_deferred"),
    [
        ("", "GIoULoss", 0),  # MMDetection's losses only: no module is read
        ("gama=1", "GIoULoss", 0),  # a typo: MMDetection's FocalLoss still answers
        ("", "OwnLoss", 1),  # a type of the package's own: read
        ("", "NoSuchLoss", 1),  # unknown: the modules are read, to say which could not be
    ],
)
def test_a_lint_reads_the_modules_only_where_an_answer_depends_on_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, box: str, read_when_deferred: int
) -> None:
    _own(tmp_path, "from mmdet.registry import MODELS")
    _tree(tmp_path, {"configs/cfg.py": CONFIG.format(package="own", extra=extra, box=box)})
    monkeypatch.chdir(tmp_path)
    eager, eager_reads = _lint(tmp_path / "configs", monkeypatch, deferred=False)
    deferred, deferred_reads = _lint(tmp_path / "configs", monkeypatch, deferred=True)
    assert deferred == eager
    assert (eager_reads, deferred_reads) == (1, read_when_deferred)
    if extra:
        assert any("gama" in f for f in eager)


def test_a_module_that_replaces_an_mmdetection_loss_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(
        tmp_path,
        {
            "mine/__init__.py": "from .focal import *\n",
            "mine/focal.py": """
                from mmdet.registry import MODELS


                @MODELS.register_module(force=True)
                class FocalLoss:
                    def __init__(self, temperature=1.0):
                        pass
                """,
            "configs/cfg.py": CONFIG.format(package="mine", extra="", box="GIoULoss"),
        },
    )
    monkeypatch.chdir(tmp_path)
    eager, _ = _lint(tmp_path / "configs", monkeypatch, deferred=False)
    deferred, reads = _lint(tmp_path / "configs", monkeypatch, deferred=True)
    assert deferred == eager and reads == 1
    assert any("gamma" in f for f in eager)  # the replacing FocalLoss takes no gamma


def _configs_with_custom_imports() -> list[Path]:
    out = []
    for tree in sorted(PROJECTS.glob("site*/*/.mim/configs")):
        out += [
            p for p in sorted(tree.rglob("*.py")) if "custom_imports" in p.read_text(encoding="utf-8", errors="replace")
        ]
    return out


@pytest.mark.skipif(
    not PROJECTS.is_dir(), reason="the OpenMMLab config trees are not fetched (benchmarks/fetch_projects.py)"
)
def test_the_real_trees_give_the_findings_of_reading_every_module(monkeypatch: pytest.MonkeyPatch) -> None:
    configs = _configs_with_custom_imports()
    assert len(configs) >= 6  # MMDetection 3.3.0's tree alone has 6 (CI fetches 5 of the 16 trees: 13)
    for config in configs:
        eager, _ = _lint(config, monkeypatch, deferred=False)
        deferred, _ = _lint(config, monkeypatch, deferred=True)
        assert deferred == eager, config

"""The modules a config's `custom_imports` names are read as source, never imported: the classes
they register (with their names, registry scope and constructor parameters) and the modules that
could not be read, with the reason."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from losstune.loader import fileread
from losstune.loader.customimports import CustomClass, CustomModules, read_custom_imports


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _read(root: Path, *imports: str) -> CustomModules:
    return read_custom_imports({"imports": list(imports)}, str(root / "configs" / "cfg.py"), path=[str(root)])


def _by_name(found: CustomModules) -> dict[str, CustomClass]:
    return {n: c for c in found.classes for n in c.names}


REGISTER_FORMS = {
    "proj/__init__.py": "",
    "proj/losses/__init__.py": """
        from .focal import MyFocal, Aliased
        from . import listed
        import proj.losses.called
        """,
    "proj/losses/focal.py": """
        import torch.nn as nn
        from mmdet.registry import MODELS


        @MODELS.register_module()
        class MyFocal(nn.Module):
            def __init__(self, gamma=2.0, alpha=0.25, reduction='mean', loss_weight=1.0):
                super().__init__()


        @MODELS.register_module(name='AliasLoss')
        class Aliased(nn.Module):
            def __init__(self, scale, eps=-1e-6, weights=(1.0, 2.0)):
                super().__init__()
        """,
    "proj/losses/listed.py": """
        from mmyolo.registry import MODELS, TASK_UTILS
        from mmdet.models.task_modules import BaseSampler


        @MODELS.register_module(name=['ListA', 'ListB'], force=True)
        class Listed:
            def __init__(self, beta=0.5, *, mode='x'):
                pass


        @TASK_UTILS.register_module()
        class MySampler(BaseSampler):
            def __init__(self, num, pos_fraction, **kwargs):
                pass
        """,
    "proj/losses/called.py": """
        from mmdet.models.builder import LOSSES
        from mmdet.models import LOSSES as OLD


        @LOSSES.register_module()
        class OldStyle:
            def __init__(self, loss_weight=1.0):
                pass


        class ByCall:
            def __init__(self, t=1):
                pass


        class ByCallNamed:
            def __init__(self, t=2):
                pass


        LOSSES.register_module(module=ByCall)
        OLD.register_module(name='Renamed', module=ByCallNamed)
        """,
}


def test_every_register_form(tmp_path: Path) -> None:
    _tree(tmp_path, REGISTER_FORMS)
    found = _read(tmp_path, "proj.losses")
    assert found.unread == ()
    got = {(c.class_name, c.names, c.scope, c.registry, c.force) for c in found.classes}
    assert got == {
        ("MyFocal", ("MyFocal",), "mmdet", "MODELS", False),
        ("Aliased", ("AliasLoss",), "mmdet", "MODELS", False),
        ("Listed", ("ListA", "ListB"), "mmyolo", "MODELS", True),
        ("MySampler", ("MySampler",), "mmyolo", "TASK_UTILS", False),
        ("OldStyle", ("OldStyle",), "mmdet", "LOSSES", False),
        ("ByCall", ("ByCall",), "mmdet", "LOSSES", False),
        ("ByCallNamed", ("Renamed",), "mmdet", "LOSSES", False),
    }
    classes = _by_name(found)
    focal = classes["MyFocal"]
    assert focal.module == "proj.losses.focal"
    assert focal.file == str(tmp_path / "proj" / "losses" / "focal.py")
    assert focal.line == 6  # the `class` line, under its decorator
    assert focal.bases == ("nn.Module",)
    assert [(p.name, p.default, p.has_default) for p in focal.params] == [
        ("gamma", 2.0, True),
        ("alpha", 0.25, True),
        ("reduction", "mean", True),
        ("loss_weight", 1.0, True),
    ]
    assert (focal.var_keyword, focal.accepts_any) == (False, False)
    aliased = classes["AliasLoss"]
    assert [(p.name, p.default, p.has_default) for p in aliased.params] == [
        ("scale", None, False),
        ("eps", -1e-6, True),
        ("weights", (1.0, 2.0), True),
    ]
    assert [p.name for p in classes["ListA"].params] == ["beta", "mode"]
    sampler = classes["MySampler"]
    assert sampler.bases == ("BaseSampler",)
    assert (sampler.var_keyword, sampler.accepts_any) == (True, False)  # **kwargs taken, never used


def test_scopes_of_local_registries(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "mypkg/__init__.py": "from .reg import *\n",
            "mypkg/reg.py": """
                from mmengine.registry import Registry, MODELS as ROOT
                LOCAL = Registry('model', parent=ROOT)
                SCOPED = Registry('model', parent=ROOT, scope='elsewhere')
                ALIAS = LOCAL


                @LOCAL.register_module()
                class A:
                    pass


                @SCOPED.register_module()
                class B:
                    pass


                @ALIAS.register_module()
                class C:
                    pass


                @ROOT.register_module()
                class D:
                    pass


                @unknown_thing.register_module()
                class E:
                    pass
                """,
        },
    )
    found = _by_name(_read(tmp_path, "mypkg"))
    assert {n: (c.scope, c.registry) for n, c in found.items()} == {
        "A": ("mypkg", "LOCAL"),
        "B": ("elsewhere", "SCOPED"),
        "C": ("mypkg", "LOCAL"),
        "D": ("mmengine", "MODELS"),
        "E": ("mypkg", "unknown_thing"),
    }
    assert all(c.params == () and not c.accepts_any for c in found.values())  # no __init__, no base


def test_keyword_arguments_and_inherited_constructors(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "p/__init__.py": "from .base import Base\nfrom .derived import *\n",
            "p/base.py": """
                import torch.nn as nn


                class Base(nn.Module):
                    def __init__(self, loss_weight=1.0, reduction='mean'):
                        super().__init__()
                """,
            "p/derived.py": """
                import math
                from mmdet.registry import MODELS
                from mmdet.models.losses import FocalLoss
                from .base import Base


                @MODELS.register_module()
                class Inherits(Base):
                    pass


                @MODELS.register_module()
                class Forwards(Base):
                    def __init__(self, gamma=2.0, **kwargs):
                        super().__init__(**kwargs)


                @MODELS.register_module()
                class UsesThem(Base):
                    def __init__(self, gamma=2.0, **kwargs):
                        super().__init__()
                        self.extra = kwargs


                @MODELS.register_module()
                class FromElsewhere(FocalLoss):
                    pass


                @MODELS.register_module()
                class NonLiteral(Base):
                    def __init__(self, eps=math.pi, scale=1 / 3):
                        super().__init__()
                """,
        },
    )
    found = _by_name(_read(tmp_path, "p"))
    assert [p.name for p in found["Inherits"].params] == ["loss_weight", "reduction"]
    assert not found["Inherits"].accepts_any
    forwards = found["Forwards"]
    assert [p.name for p in forwards.params] == ["gamma", "loss_weight", "reduction"]
    assert (forwards.var_keyword, forwards.accepts_any) == (False, False)  # Base takes no others
    assert found["UsesThem"].accepts_any
    assert found["FromElsewhere"].accepts_any  # FocalLoss is not in the modules read
    non_literal = {p.name: p for p in found["NonLiteral"].params}
    assert non_literal["eps"].has_default and not non_literal["eps"].literal
    assert non_literal["eps"].default_text == "math.pi"
    assert non_literal["scale"].default_text == "1 / 3"


def test_imports_are_followed_inside_the_named_package_only(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/named/__init__.py": "from .inner import *\nfrom ..outside import *\nimport other.mod\n",
            "top/named/inner.py": "from mmdet.registry import MODELS\n\n@MODELS.register_module()\nclass In:\n    pass\n",
            "top/outside.py": "from mmdet.registry import MODELS\n\n@MODELS.register_module()\nclass Out:\n    pass\n",
            "other/__init__.py": "",
            "other/mod.py": "from mmdet.registry import MODELS\n\n@MODELS.register_module()\nclass Other:\n    pass\n",
        },
    )
    assert set(_by_name(_read(tmp_path, "top.named"))) == {"In"}
    # Another module custom_imports names is read, and followed into from the first.
    assert set(_by_name(_read(tmp_path, "top.named", "other.mod"))) == {"In", "Other"}
    # A module that is not a package follows its siblings.
    _tree(tmp_path, {"top/single.py": "from .outside import Out\n"})
    assert set(_by_name(_read(tmp_path, "top.single"))) == {"Out"}


def test_modules_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bad/__init__.py": "from . import broken, huge, latin, deep, nul\n",
            "bad/broken.py": "class X(:\n",
            "bad/huge.py": "x = 1\n" * 40_000,
            "bad/latin.py": "",
        },
    )
    (tmp_path / "bad" / "latin.py").write_bytes(b"s = '\xe9'\n")
    (tmp_path / "bad" / "deep.py").write_text("x = " + "+".join(["1"] * 30000) + "\n")
    (tmp_path / "bad" / "nul.py").write_bytes(b"x = 1\0\n")
    with fileread.limit(200_000):
        found = _read(tmp_path, "bad", "nowhere.losses", "bad.missing")
    reasons = {u.module: u.reason for u in found.unread}
    assert reasons["nowhere.losses"] == "`nowhere` is not installed or on the Python path"
    assert reasons["bad.missing"].startswith("the package `bad` (")
    assert reasons["bad.missing"].endswith("has no sub-package or module `missing`")
    assert reasons["bad.broken"].startswith("it is not valid Python: line 1: ")
    assert reasons["bad.huge"] == "it is 234.4 KiB, larger than the 195.3 KiB losstune reads"
    assert reasons["bad.deep"] == "it nests too deeply to be parsed"
    assert reasons["bad.nul"].startswith("it is not valid Python: ")
    assert reasons["bad.latin"].startswith("it is not UTF-8 text: byte 0xe9 at line 1")
    assert {u.module: u.file for u in found.unread}["bad.broken"] == str(tmp_path / "bad" / "broken.py")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"imports": 5}, "`custom_imports.imports` is 5, not a list of module names"),
        ({"imports": ["ok", 3]}, "`custom_imports.imports` holds 3, not a module name"),
        ([1], "`custom_imports` is [1], not a dict with `imports`"),
    ],
)
def test_custom_imports_that_are_not_module_names(tmp_path: Path, value: object, reason: str) -> None:
    found = read_custom_imports(value, str(tmp_path / "cfg.py"), path=[str(tmp_path)])
    assert [u.reason for u in found.unread if u.module == ""] == [reason]


def test_a_single_name_is_a_list_of_one(tmp_path: Path) -> None:
    _tree(tmp_path, REGISTER_FORMS)
    one = read_custom_imports({"imports": "proj.losses.focal"}, str(tmp_path / "c.py"), path=[str(tmp_path)])
    assert set(_by_name(one)) == {"MyFocal", "AliasLoss"}


def test_found_next_to_the_config_and_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path / "repo", REGISTER_FORMS)
    deep = tmp_path / "repo" / "proj" / "configs" / "x.py"
    found = read_custom_imports({"imports": ["proj.losses.focal"]}, str(deep), path=[])
    assert set(_by_name(found)) == {"MyFocal", "AliasLoss"}
    monkeypatch.chdir(tmp_path / "repo")
    found = read_custom_imports({"imports": ["proj.losses.focal"]}, str(tmp_path / "elsewhere.py"), path=[])
    assert set(_by_name(found)) == {"MyFocal", "AliasLoss"}


def test_nothing_is_imported_or_run(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _tree(
        tmp_path,
        {
            "evil/__init__.py": f"open({str(marker)!r}, 'w').write('imported')\nfrom .loss import *\n",
            "evil/loss.py": f"""
                import os
                os.system('touch {marker}')
                from mmdet.registry import MODELS


                @MODELS.register_module(name=__import__('os').system('touch {marker}') or 'X')
                class Evil:
                    def __init__(self, a=open({str(marker)!r}, 'w')):
                        pass
                """,
        },
    )
    found = _read(tmp_path, "evil")
    assert not marker.exists()
    assert found.classes == ()  # a name that is not a literal is not a name losstune can know


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_loop_of_links_in_the_package_ends(tmp_path: Path) -> None:
    _tree(tmp_path, {"lp/__init__.py": "from . import again, selfish\nfrom .again import again\n"})
    os.symlink(tmp_path / "lp", tmp_path / "lp" / "again")  # lp/again is lp itself
    os.symlink(tmp_path / "lp" / "selfish.py", tmp_path / "lp" / "selfish.py")
    found = _read(tmp_path, "lp")
    assert found.classes == ()
    assert any(u.module == "lp.selfish" for u in found.unread)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_named_like_a_module_does_not_hang(tmp_path: Path) -> None:
    _tree(tmp_path, {"fp/__init__.py": "from . import pipe\n"})
    os.mkfifo(tmp_path / "fp" / "pipe.py")
    os.mkfifo(tmp_path / "fp" / "named.py")
    found = _read(tmp_path, "fp", "fp.named")
    assert {u.module for u in found.unread} == {"fp.pipe", "fp.named"}


def test_each_folder_is_searched_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ns" / "sub").mkdir(parents=True)  # a namespace package, found from three places
    monkeypatch.chdir(tmp_path)
    found = read_custom_imports({"imports": ["ns.sub.nothing"]}, str(tmp_path / "c.py"), path=["", str(tmp_path)])
    [unread] = found.unread
    assert unread.reason.count(str(tmp_path / "ns" / "sub")) == 1, unread.reason


def test_the_modules_read_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from losstune.loader import customimports

    files = {"many/__init__.py": "".join(f"from . import m{i}\n" for i in range(5))}
    for i in range(5):
        files[f"many/m{i}.py"] = (
            f"from mmdet.registry import MODELS\n\n@MODELS.register_module()\nclass L{i}:\n    pass\n"
        )
    _tree(tmp_path, files)
    monkeypatch.setattr(customimports, "MAX_CUSTOM_MODULES", 3)
    found = _read(tmp_path, "many")
    assert set(_by_name(found)) == {"L0", "L1"}  # the package and two of its modules
    assert [(u.module, u.reason) for u in found.unread] == [
        ("many.m2", "it and the modules after it are not read: more than 3 modules are imported")
    ]

"""One bad file never stops the others, and a failure always names the file.

``lint`` checks each file on its own: a file that cannot be read, parsed or evaluated is a finding
on that file, and so is a failure of losstune itself while checking it; every other file is still
checked and the exit code says findings. The other commands name the file they were processing
when something unexpected happens.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import losstune.lint.run
from losstune.cli.app import main
from tests.conftest import invoke

RETINA = "model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=80))\n"


def _lint(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    code, out = invoke("lint", *args, "--format", "json", cwd=tmp_path)
    return code, json.loads(out)


def test_fifty_configs_and_one_that_fails_to_evaluate(write: Callable[..., Path], tmp_path: Path) -> None:
    for i in range(50):
        write(f"configs/c{i:02d}.py", RETINA)
    write("configs/c13.py", "x = [1] @ [2]\n")
    if hasattr(os, "symlink"):
        os.symlink("/dev/zero", tmp_path / "configs" / "zero.py")
    code, data = _lint(tmp_path, "configs")
    assert code == 1
    diagnostics = data["diagnostics"]
    assert isinstance(diagnostics, list)
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert {d["file"] for d in errors} == {"configs/c13.py"} and errors[0]["line"] == 1
    assert data["files"] == 50  # every config, the bad one included; the device is skipped
    assert any(d["file"] == "configs/zero.py" and d["severity"] == "warning" for d in diagnostics)


def test_a_failure_of_losstune_on_one_file_is_a_finding_on_it(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(6):
        write(f"configs/c{i}.py", RETINA)
    real = losstune.lint.run.check_config

    def failing(config: losstune.lint.run.LoadedConfig, *args: object) -> object:
        if config.path.endswith("c3.py"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(config, *args)

    monkeypatch.setattr(losstune.lint.run, "check_config", failing)
    code, data = _lint(tmp_path, "configs")
    assert code == 1 and data["files"] == 6
    diagnostics = data["diagnostics"]
    assert isinstance(diagnostics, list)
    [failed] = [d for d in diagnostics if d["code"] == "LT021"]
    assert failed["file"] == "configs/c3.py" and failed["severity"] == "error"
    assert "losstune failed while checking `configs/c3.py` (RecursionError: maximum recursion" in failed["message"]


def test_a_failure_is_reported_in_text_without_a_traceback(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("a.py", RETINA)
    write("b.py", RETINA)

    def failing(*args: object) -> object:
        raise ValueError("boom")

    monkeypatch.setattr(losstune.lint.run, "check_config", failing)
    code, out = invoke("lint", "a.py", "b.py", "--format", "text", cwd=tmp_path)
    assert code == 1 and "Traceback" not in out
    assert out.count("LT021") == 2 and "a.py" in out and "b.py" in out


def test_an_unexpected_failure_of_a_command_names_the_file(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write("cfg.py", RETINA)
    import losstune.report

    def failing(*args: object, **kwargs: object) -> object:
        raise KeyError("surprise")

    monkeypatch.setattr(losstune.report, "explain", failing)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOSSTUNE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["losstune", "explain", "cfg.py", "--no-steps"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "losstune: internal error while processing cfg.py: KeyError: 'surprise'" in err
    assert "Traceback" not in err

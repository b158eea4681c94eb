"""What a process imports to start: ``import losstune`` and one command pay only for what they use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import losstune
from tests.conftest import EXAMPLES, REPO


def _modules_after(code: str, cwd: Path = REPO) -> set[str]:
    """The names in ``sys.modules`` after running ``code`` in a new interpreter in ``cwd``."""
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=env, check=True)
    return set(out.stdout.split())


def _lint(path: Path) -> str:
    return (
        "from losstune.cli.app import main\n"
        f"sys.argv = ['losstune', 'lint', {str(path)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )


def test_import_losstune_loads_no_submodule_until_a_name_is_used() -> None:
    loaded = _modules_after("import losstune")
    assert not {m for m in loaded if m.startswith("losstune.")}
    assert not {"yaml", "typer", "rich", "torch"} & loaded


def test_public_names_resolve_to_their_modules() -> None:
    from losstune.config import load
    from losstune.engine import evaluate
    from losstune.loader.resolve import Resolver
    from losstune.model import Severity

    assert losstune.load is load and losstune.evaluate is evaluate
    assert losstune.Resolver is Resolver and losstune.Severity is Severity
    assert sorted(losstune.__all__) == sorted(losstune._HOMES)
    assert set(losstune.__all__) <= set(dir(losstune))
    for name in losstune.__all__:
        assert getattr(losstune, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        losstune.nope  # noqa: B018


def test_lint_of_a_python_config_imports_no_parser_it_does_not_use_nor_engine(tmp_path: Path) -> None:
    config = tmp_path / "retinanet.py"  # no pyproject.toml around it: no TOML to read
    config.write_text((EXAMPLES / "_base_" / "models" / "retinanet_r50_fpn.py").read_text(encoding="utf-8"))
    loaded = _modules_after(_lint(config), cwd=tmp_path)
    assert "losstune.lint.run" in loaded  # the command did run
    assert not {"yaml", "ruamel", "rich", "torch", "losstune.engine", "tomllib", "zipfile"} & loaded
    assert not {"pygls", "lsprotocol", "losstune.server"} & loaded  # only `losstune server` needs them


def test_a_command_imports_its_own_command_module_and_no_other(tmp_path: Path) -> None:
    config = tmp_path / "retinanet.py"
    config.write_text((EXAMPLES / "_base_" / "models" / "retinanet_r50_fpn.py").read_text(encoding="utf-8"))
    loaded = _modules_after(_lint(config), cwd=tmp_path)
    commands = {m for m in loaded if m.startswith("losstune.cli.") and m.count(".") == 2}
    assert "losstune.cli.lint" in commands
    assert not {"losstune.cli.diff", "losstune.cli.eval", "losstune.cli.sweep", "losstune.cli.server"} & commands
    assert "json" not in loaded  # the text report does without it


def test_load_lint_set_and_explain_never_import_mmdetection_nor_the_training_hook() -> None:
    config = str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    commands = [["lint", config], ["set", "model.bbox_head.loss_cls.gamma=1.5", config, "--dry-run"]]
    commands.append(["explain", config, "--no-steps"])
    code = (
        "import losstune\n"
        f"losstune.load({config!r})\n"
        "from typer.testing import CliRunner\n"
        "from losstune.cli.app import app\n"
        f"for args in {commands!r}:\n"
        "    assert CliRunner().invoke(app, args).exit_code in (0, 1)\n"
    )
    loaded = _modules_after(code)
    assert "losstune.edit.apply" in loaded and "losstune.render.explain" in loaded  # the commands did run
    assert not {"mmdet", "mmcv", "mmengine", "losstune.mmengine"} & loaded


def test_the_compiled_builtin_schema_is_the_yaml_source() -> None:
    from losstune.schema import builtin

    pairs = builtin.compiled_pairs()
    assert pairs[0][0].name == "mmdet_schema.yaml"
    for source, compiled in pairs:
        shipped = compiled.read_text(encoding="utf-8")
        assert shipped == builtin.compile_source(source), (
            f"stale {compiled.name}: run `python -m losstune.schema.builtin`"
        )


def test_the_earlier_entry_point_still_runs_the_command() -> None:
    script = "import sys; from losstune.cli import main; sys.argv = ['losstune', '--version']; main()"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.startswith("losstune "), out.stderr


ONE_COMMAND_CASES = [
    ["lint", "--help"],
    ["explain", "-h"],
    ["set", "--help"],
    ["lint"],
    ["lint", "--no-such-option", "x.py"],
    ["explain", "--format", "nope", "x.py"],
    ["lint", str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")],
    ["explain", "--no-steps", str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")],
    ["rule", "LT111"],
]


@pytest.mark.parametrize("argv", ONE_COMMAND_CASES, ids=" ".join)
def test_the_application_of_one_command_answers_as_the_whole_one(argv: list[str]) -> None:
    from typer.testing import CliRunner

    from losstune.cli.app import _for, app

    one = _for(argv)
    assert one is not app and len(one.registered_commands) == 1
    runner = CliRunner()
    whole, alone = runner.invoke(app, argv), runner.invoke(one, argv)
    assert (alone.exit_code, alone.stdout, alone.stderr) == (whole.exit_code, whole.stdout, whole.stderr)


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["lnt", "x.py"], ["--version", "lint", "x.py"]])
def test_anything_but_a_command_first_gets_the_whole_application(argv: list[str]) -> None:
    from losstune.cli.app import _for, app

    assert _for(argv) is app


def test_a_command_run_reads_the_signature_of_that_command_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer.main

    from losstune.cli.app import main

    built: list[str | None] = []
    original = typer.main.get_command_from_info

    def counting(command_info: typer.models.CommandInfo, **kwargs: object) -> object:
        built.append(command_info.name)
        return original(command_info, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(typer.main, "get_command_from_info", counting)
    monkeypatch.setattr(sys, "argv", ["losstune", "lint", str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0 and built == ["lint"]


def test_explain_as_json_imports_no_terminal_renderer() -> None:
    code = (
        "from losstune.cli.app import main\n"
        f"sys.argv = ['losstune', 'explain', '--no-steps', '--format', 'json', "
        f"{str(EXAMPLES / 'retinanet_r50_fpn_1x_coco.py')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert "losstune.render.explain" in loaded  # the report was rendered
    assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}


def _run_program(script: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=env)


def test_the_program_ends_with_the_exit_status_and_all_of_its_output(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    for i in range(300):  # more output than a pipe holds before it is read
        write(f"configs/c{i:03d}.py", "x = [1] @ [2]\n")
    out = _run_program(
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('exit functions ran\\n'))\n"
        "sys.argv = ['losstune', 'lint', '--format', 'json', '--jobs', '1', 'configs']\n"
        "from losstune.cli.app import run\nrun()\n",
        cwd=tmp_path,
    )
    assert out.returncode == 1 and out.stderr == "exit functions ran\n"
    assert len(out.stdout) > 65536 and json.loads(out.stdout)["files"] == 300


def test_the_program_ends_as_the_interpreter_does_where_a_thread_still_runs_or_the_status_is_text() -> None:
    thread = (  # the thread goes on after the command's output, while run() decides how to end
        "import sys, threading, time\nimport losstune.cli.app as a\n"
        "ran = threading.Event()\n"
        "threading.Thread(target=lambda: (ran.wait(), time.sleep(0.3), print('thread done'))).start()\n"
        "def m(real=a.main):\n    try:\n        real()\n    finally:\n        ran.set()\n"
        "a.main = m\nsys.argv = ['losstune', '--version']\na.run()\n"
    )
    out = _run_program(thread)
    assert out.returncode == 0 and out.stdout.startswith("losstune ") and out.stdout.endswith("thread done\n")
    text = "import losstune.cli.app as a\ndef m():\n    raise SystemExit('stopped')\na.main = m\na.run()\n"
    out = _run_program(text)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "stopped\n")

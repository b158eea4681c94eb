"""Every file is read the same bounded way: regular files only, up to a size limit, never a hang.

A named pipe, a device, a loop of symbolic links or a file above the limit is a diagnostic naming
the file wherever losstune meets it: as the config, as a base, as a schema file, as the
pyproject.toml of the settings, or inside a folder given to ``lint`` (skipped with a warning).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from losstune.lint.settings import SettingsError, load_settings
from losstune.loader import fileread
from losstune.loader.limits import MAX_FILE_BYTES
from losstune.loader.resolve import Resolver
from losstune.model import Severity
from losstune.schema.registry import SchemaError, load_schema
from tests.conftest import invoke

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and devices are POSIX")


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a blocked open() or read() is interrupted."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _errors(path: Path, **kwargs: int) -> list[tuple[str, str, str]]:
    with deadline(5):
        result = Resolver(**kwargs).resolve(path)
    return [
        (d.code, Path(d.span.file).name if d.span else "", d.message)
        for d in result.diagnostics
        if d.severity is Severity.ERROR
    ]


def test_a_named_pipe_as_the_config(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "cfg.py")
    [(code, file, message)] = _errors(tmp_path / "cfg.py")
    assert code == "LT004" and file == "cfg.py"
    assert "cfg.py` is a named pipe (FIFO), not a regular file" in message


def test_a_named_pipe_as_a_base(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("cfg.py", "_base_ = ['./pipe.py']\nx = 1\n")
    os.mkfifo(tmp_path / "pipe.py")
    [(code, file, message)] = _errors(cfg)
    assert (code, file) == ("LT004", "cfg.py")  # reported where the base is named
    assert "pipe.py` is a named pipe (FIFO)" in message


def test_a_link_to_a_device(tmp_path: Path) -> None:
    os.symlink("/dev/zero", tmp_path / "cfg.py")
    [(code, _, message)] = _errors(tmp_path / "cfg.py")
    assert code == "LT004" and "is a symbolic link to `/dev/zero`, a character device" in message


def test_a_file_just_over_the_limit_is_not_read(write: Callable[..., Path]) -> None:
    at_limit = write("ok.py", "x = 1\n" + "#" * (1000 - 7) + "\n")
    assert os.path.getsize(at_limit) == 1000
    assert _errors(at_limit, max_file_size=1000) == []
    over = write("big.py", "x = 1\n" + "#" * (1000 - 6) + "\n")
    [(code, _, message)] = _errors(over, max_file_size=1000)
    assert code == "LT004" and "is 1001 bytes, larger than the 1000 bytes losstune reads" in message


def test_the_default_limit_is_a_few_megabytes(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    [(code, _, message)] = _errors(big)
    assert code == "LT004" and "larger than the 4 MiB losstune reads" in message


def test_a_file_that_grows_past_the_limit_while_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg.py"
    path.write_text("x = 1\n")
    real_read = os.read
    reads: list[int] = []

    def growing(fd: int, n: int) -> bytes:
        reads.append(n)
        return b"#" * n  # an endless file, whatever its size said

    monkeypatch.setattr(os, "read", growing)
    with pytest.raises(fileread.ReadError, match="more than 1000 bytes"):
        fileread.read_bytes(str(path), 1000)
    monkeypatch.setattr(os, "read", real_read)
    assert sum(reads) == 1001  # never more than one byte beyond the limit


def test_a_loop_of_links_is_a_loop(tmp_path: Path) -> None:
    os.symlink("b.py", tmp_path / "a.py")
    os.symlink("a.py", tmp_path / "b.py")
    [(code, _, message)] = _errors(tmp_path / "a.py")
    assert code == "LT004" and "is a loop of symbolic links" in message and "does not exist" not in message


def test_a_broken_link_as_a_base(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("cfg.py", "_base_ = './gone.py'\n")
    os.symlink("nowhere.py", tmp_path / "gone.py")
    [(code, _, message)] = _errors(cfg)
    assert code == "LT006" and "is a symbolic link to `nowhere.py`, which does not exist" in message


def test_a_base_that_is_not_utf8(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "_base_ = './b.py'\n")
    write("b.py", b"x = 1\ny = '\xe9'\n")
    result = Resolver().resolve(cfg)
    [d] = result.diagnostics
    assert d.code == "LT002" and d.span is not None and (Path(d.span.file).name, d.span.line) == ("b.py", 2)


def test_max_file_size_in_pyproject(write: Callable[..., Path], tmp_path: Path) -> None:
    write("pyproject.toml", "[tool.losstune]\nmax-file-size = 100\n")
    write("cfg.py", "x = 1\n" + "#" * 200 + "\n")
    assert load_settings(str(tmp_path / "cfg.py")).max_file_size == 100
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code == 2 and "cfg.py" in out and "larger than the 100 bytes losstune reads" in out
    assert "max-file-size" in out  # the message says how to raise it
    write("pyproject.toml", "[tool.losstune]\nmax-file-size = 1_000\n")
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code == 0, out


@pytest.mark.parametrize("value", ["0", "-5", "'big'", "true", "1.5"])
def test_max_file_size_must_be_a_number_of_bytes(write: Callable[..., Path], tmp_path: Path, value: str) -> None:
    write("pyproject.toml", f"[tool.losstune]\nmax-file-size = {value}\n")
    with pytest.raises(SettingsError, match="max-file-size must be a number of bytes"):
        load_settings(str(tmp_path))


def test_a_pyproject_that_is_a_pipe(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pyproject.toml")
    with deadline(5), pytest.raises(SettingsError, match=r"pyproject\.toml is a named pipe"):
        load_settings(str(tmp_path))


def test_a_pyproject_without_losstune_is_passed_over_unparsed(write: Callable[..., Path], tmp_path: Path) -> None:
    write("pyproject.toml", "this is [not toml\n")
    assert load_settings(str(tmp_path)).pyproject is None


def test_a_pyproject_naming_losstune_outside_the_tool_table_is_passed_over_unparsed(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write(
        "pyproject.toml",
        '[project]\nname = "losstune"\ndependencies = ["losstune>=0.1"]\n'
        '[project.scripts]\nlosstune = "losstune.cli.app:run"\n[tool.ruff]\nthis is [not toml\n',
    )
    assert load_settings(str(tmp_path)).pyproject is None


@pytest.mark.parametrize(
    "text",
    [
        "[tool.losstune]\nmax-file-size = 100\n",
        '[ "tool" . "losstune" ]\nmax-file-size = 100\n',
        "[tool]\nlosstune = {max-file-size = 100}\n",
        "[tool]\nlosstune.max-file-size = 100\n",
        "tool.losstune.max-file-size = 100\n",
        "tool = {losstune = {max-file-size = 100}}\n",
    ],
)
def test_each_way_of_writing_the_tool_table_is_read(write: Callable[..., Path], tmp_path: Path, text: str) -> None:
    path = write("pyproject.toml", text)
    settings = load_settings(str(tmp_path))
    assert (settings.pyproject, settings.max_file_size) == (str(path), 100)


def test_a_schema_file_that_is_a_pipe(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "losses.yaml")
    with deadline(5), pytest.raises(SchemaError, match=r"losses\.yaml is a named pipe"):
        load_schema([tmp_path / "losses.yaml"])


def test_a_schema_file_that_is_not_utf8(write: Callable[..., Path]) -> None:
    path = write("losses.yaml", b"losses:\n  - name: \xff\n")
    with pytest.raises(SchemaError, match=r"losses.yaml:2:11: is not UTF-8 text: byte 0xff"):
        load_schema([path])


def test_the_first_byte_that_is_not_utf8_is_placed_as_every_other_position(write: Callable[..., Path]) -> None:
    from losstune.loader import fileread

    path = write("cfg.py", b"a = '\xc3\xa9'\rb = '\xff'\n")
    with pytest.raises(fileread.DecodeError) as e:
        fileread.read_text(str(path))
    assert e.value.position == fileread.Position(2, 6)  # characters, lines ending at CR as Python's do


def test_a_schema_file_on_the_command_line_that_is_a_pipe(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", "x = 1\n")
    os.mkfifo(tmp_path / "s.yaml")
    with deadline(10):
        code, out = invoke("lint", "cfg.py", "--schema", "s.yaml", cwd=tmp_path)
    assert code == 2 and "s.yaml is a named pipe" in out


# -- lint walking a folder ------------------------------------------------------------------------


def _lint_json(tmp_path: Path, *args: str) -> tuple[int, list[tuple[str, str, str]], int]:
    with deadline(20):
        code, out = invoke("lint", *args, "--format", "json", cwd=tmp_path)
    data = json.loads(out)
    return code, [(d["code"], d["file"], d["message"]) for d in data["diagnostics"]], data["files"]


def test_lint_skips_pipes_and_devices_in_a_folder_with_a_warning(write: Callable[..., Path], tmp_path: Path) -> None:
    write("configs/a.py", "x = 1\n")
    write("configs/z.py", "y = 2\n")
    os.mkfifo(tmp_path / "configs" / "pipe.py")
    os.symlink("/dev/zero", tmp_path / "configs" / "zero.py")
    code, found, files = _lint_json(tmp_path, "configs")
    assert code == 0 and files == 2  # warnings only; both real configs checked
    assert [(c, f) for c, f, _ in found] == [("LT020", "configs/pipe.py"), ("LT020", "configs/zero.py")]
    assert "named pipe" in found[0][2] and "skipped" in found[0][2]
    assert "character device" in found[1][2]


def test_lint_of_a_pipe_named_on_the_command_line_is_a_finding(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "cfg.py")
    code, found, _ = _lint_json(tmp_path, "cfg.py")
    assert code == 1 and [(c, f) for c, f, _ in found] == [("LT004", "cfg.py")]


def test_lint_skips_a_loop_of_links_and_files_over_the_limit(write: Callable[..., Path], tmp_path: Path) -> None:
    write("pyproject.toml", "[tool.losstune]\nmax-file-size = 100\n")
    write("configs/a.py", "x = 1\n")
    write("configs/big.json", '{"x": "' + "y" * 200 + '"}\n')
    os.symlink("loop.py", tmp_path / "configs" / "loop.py")
    os.symlink(".", tmp_path / "configs" / "again")  # a link to a folder is not followed
    code, found, files = _lint_json(tmp_path, "configs")
    assert code == 0 and files == 1
    assert [(c, f) for c, f, _ in found] == [("LT020", "configs/big.json"), ("LT020", "configs/loop.py")]
    assert "larger than the 100 bytes" in found[0][2] and "loop of symbolic links" in found[1][2]


def test_an_unreadable_folder_is_a_warning(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("configs/a.py", "x = 1\n")
    write("configs/private/b.py", "x = 1\n")
    real = os.scandir

    def scandir(path: str) -> object:
        if os.path.basename(path) == "private":
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, found, files = _lint_json(tmp_path, "configs")
    assert code == 0 and files == 1
    [(c, f, message)] = found
    assert (c, f) == ("LT020", "configs/private")
    assert "is a folder that cannot be read (Permission denied); the configs in it are not checked" in message


def test_strict_lint_fails_on_a_skipped_path(write: Callable[..., Path], tmp_path: Path) -> None:
    write("configs/a.py", "x = 1\n")
    os.mkfifo(tmp_path / "configs" / "pipe.py")
    code, _, _ = _lint_json(tmp_path, "configs", "--strict")
    assert code == 1


@pytest.mark.parametrize("command", ["explain", "lint", "set", "diff", "sweep"])
def test_unusable_settings_or_schema_under_format_json(
    write: Callable[..., Path], tmp_path: Path, command: str
) -> None:
    write("cfg.py", "x = 1\n")
    args = {
        "explain": ["explain", "cfg.py", "--no-steps"],
        "lint": ["lint", "cfg.py"],
        "set": ["set", "loss_cls.gamma=1.5", "cfg.py", "--dry-run"],
        "diff": ["diff", "cfg.py", "cfg.py"],
        "sweep": ["sweep", "cfg.py", "loss_cls.gamma=1.0", "-o", "sw"],
    }[command]
    write("pyproject.toml", "[tool.losstune]\nstrict = 'yes'\n")
    code, out = invoke(*args, "--format", "json", cwd=tmp_path)
    report = json.loads(out)
    assert code == 2 and report["kind"] == "error" and "pyproject.toml" in report["message"]
    write("pyproject.toml", "[tool.losstune]\nschema = ['s.yaml']\n")
    os.mkfifo(tmp_path / "s.yaml")
    with deadline(10):
        code, out = invoke(*args, "--format", "json", cwd=tmp_path)
    report = json.loads(out)
    assert code == 2 and report["kind"] == "error" and "s.yaml is a named pipe" in report["message"]

"""`losstune set` never loses or corrupts an edit: concurrent writers through any spelling of a
path, other programs writing meanwhile, kills at any moment, symlinks, hard links, permissions."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import losstune
from losstune.edit import apply, lock, session
from losstune.edit.plan import EditError
from losstune.edit.values import Assignment
from losstune.lint.settings import Settings
from losstune.schema.registry import load_schema
from tests.conftest import invoke

CONFIG = """\
model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        num_classes=80,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
custom = dict(first=0)
"""


def _cli(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "losstune", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".losstune-"))


def _custom(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = losstune.load(path).to_dict()["custom"]
    return out


def _set(path: Path, *assignments: tuple[str, Any], **options: Any) -> session.SetOutcome:
    return session.set_values(
        str(path), [Assignment(k, v) for k, v in assignments], load_schema(), Settings(), **options
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    folder = tmp_path / "dir"
    folder.mkdir()
    path = folder / "cfg.py"
    path.write_text(CONFIG)
    (tmp_path / "link").symlink_to("dir")
    return path


def test_concurrent_sets_through_every_spelling_of_the_path_keep_every_edit(cfg: Path, tmp_path: Path) -> None:
    spellings = [
        "dir/cfg.py",
        "link/cfg.py",
        "./dir/cfg.py",
        str(cfg),
        str(tmp_path / "link" / "cfg.py"),
        "dir/../dir/cfg.py",
    ]
    procs = [_cli("set", f"custom.k{i}={i}", spellings[i % len(spellings)], cwd=tmp_path) for i in range(9)]
    results = [(p.wait(timeout=60), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert _custom(cfg) == {"first": 0, **{f"k{i}": i for i in range(9)}}
    assert (tmp_path / "link").is_symlink() and not cfg.is_symlink()
    assert _temps(cfg.parent) == []


def test_the_lock_is_the_same_for_every_spelling_and_link(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alias.py").symlink_to(cfg)
    keys = {lock.lock_key(p) for p in ("dir/cfg.py", "./dir/cfg.py", "link/cfg.py", str(cfg), "alias.py")}
    assert len(keys) == 1
    assert lock.lock_key("dir/other.py") not in keys


def test_locks_live_in_a_folder_of_the_user_and_one_made_by_another_user_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder = lock.lock_folder()
    assert folder == str(tmp_path / f"losstune-{os.getuid()}")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    with lock.locked(str(tmp_path / "x.py")):
        assert len(os.listdir(folder)) == 1
    assert os.listdir(folder) == []  # lock files do not pile up
    if os.getuid() != 0:
        return  # only root can make a folder that belongs to someone else
    os.rmdir(folder)
    os.mkdir(folder, 0o777)
    os.chown(folder, 12345, 12345)  # another user made it first
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert lock.lock_folder() == str(tmp_path / "cache" / "losstune" / "locks")
    os.chmod(tmp_path / "cache" / "losstune", 0o777)
    os.chown(tmp_path / "cache" / "losstune" / "locks", 12345, 12345)
    with pytest.raises(EditError, match=f"losstune-{os.getuid()}.*not a folder of yours"):
        lock.lock_folder()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert lock.lock_folder() == str(runtime / "losstune")


def test_a_second_set_waits_for_the_lock_and_gives_up_with_a_message(cfg: Path) -> None:
    with lock.locked(str(cfg)), pytest.raises(EditError, match="another `losstune set` has been editing"):
        with lock.locked(str(cfg.parent / "." / "cfg.py"), wait=0.2):
            pass  # pragma: no cover - never reached


def test_a_change_made_between_reading_and_renaming_is_kept_and_the_edit_planned_again(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = apply.atomic_write
    calls = []

    def other_program_appends_first(path: str, text: str, expected: str | None = None, **kw: Any) -> None:
        if not calls:
            with open(path, "a") as f:
                f.write("extra = dict(appended=True)\n")
        calls.append(path)
        real_write(path, text, expected, **kw)

    monkeypatch.setattr(session, "atomic_write", other_program_appends_first)
    _set(cfg, ("custom.second", 2))
    assert len(calls) == 2  # refused once, then planned again from the new text
    tree = losstune.load(cfg).to_dict()
    assert tree["custom"] == {"first": 0, "second": 2} and tree["extra"] == {"appended": True}


def test_a_write_that_reaches_the_old_file_during_the_rename_is_put_back(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    hits = []

    def replace_after_an_append(src: Any, dst: Any) -> None:
        if str(dst) == str(cfg) and not hits:
            hits.append(dst)
            with open(cfg, "a") as f:  # after losstune's check, before its rename
                f.write("late = 1\n")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_after_an_append)
    _set(cfg, ("custom.second", 2))
    tree = losstune.load(cfg).to_dict()
    assert tree["custom"] == {"first": 0, "second": 2} and tree["late"] == 1
    assert _temps(cfg.parent) == []


def test_a_file_that_keeps_changing_is_refused_with_exit_2(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = apply.atomic_write

    def always_changed(path: str, text: str, expected: str | None = None, **kw: Any) -> None:
        with open(path, "a") as f:
            f.write("# another line\n")
        real_write(path, text, expected, **kw)

    monkeypatch.setattr(session, "atomic_write", always_changed)
    before_lines = cfg.read_text().count("\n")
    with pytest.raises(EditError, match="kept being changed by another program"):
        _set(cfg, ("custom.second", 2))
    text = cfg.read_text()
    assert text.count("# another line") == text.count("\n") - before_lines and "second" not in text


def test_a_concurrent_writer_loses_nothing_and_neither_do_the_sets(cfg: Path, tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            # Each append is checked to have reached the file that still has the name: the one
            # window a rename leaves (README) is a write into the old file, and a program that
            # does not hold the file open across the rename writes again.
            "import os, sys, time\n"
            "for i in range(100):\n"
            "    while True:\n"
            "        with open(sys.argv[1], 'a') as f:\n"
            "            f.write(f'# appended {i}\\n')\n"
            "            f.flush()\n"
            "            if os.fstat(f.fileno()).st_ino == os.stat(sys.argv[1]).st_ino:\n"
            "                break\n"
            "    time.sleep(0.015)\n",
            str(cfg),
        ]
    )
    procs = [_cli("set", f"custom.k{i}={i}", "dir/cfg.py" if i % 2 else "link/cfg.py", cwd=tmp_path) for i in range(8)]
    codes = [p.wait(timeout=60) for p in procs]
    assert writer.wait(timeout=60) == 0
    text = cfg.read_text()
    assert [f"# appended {i}" in text for i in range(100)] == [True] * 100
    assert set(codes) <= {0, 2} and codes.count(0) >= len(codes) // 2, codes
    assert _custom(cfg) == {"first": 0, **{f"k{i}": i for i, code in enumerate(codes) if code == 0}}


class _Skewed(session.Resolver):
    """Resolves the files on disk to something else than what was written."""

    def resolve(self, path: Any) -> Any:
        result = super().resolve(path)
        if not self.overlay and result.cfg is not None:
            result.cfg["custom"]["second"] = 3
        return result


def _edit_and_die_at(moment: str, cfg: str) -> None:  # runs in a child process
    def die(*_: Any, **__: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if moment == "before-rename":
        os.replace = die  # type: ignore[assignment]
    elif moment == "before-put-back":
        session.restore = die  # type: ignore[assignment]
        session.Resolver = _Skewed  # type: ignore[misc]
    session.set_values(cfg, [Assignment("custom.second", 2)], load_schema(), Settings())


@pytest.mark.parametrize("moment", ["before-rename", "before-put-back"])
def test_a_kill_at_a_bad_moment_leaves_the_old_or_the_new_text_and_the_next_set_cleans_up(
    cfg: Path, moment: str
) -> None:
    import multiprocessing

    old = cfg.read_text()
    child = multiprocessing.get_context("fork").Process(target=_edit_and_die_at, args=(moment, str(cfg)))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    assert cfg.read_text() == old or _custom(cfg) == {"first": 0, "second": 2}
    if moment == "before-rename":
        assert cfg.read_text() == old and len(_temps(cfg.parent)) == 1
    _set(cfg, ("custom.third", 3))
    assert _temps(cfg.parent) == []


def test_sigkill_at_random_moments_leaves_the_old_or_the_new_text(cfg: Path, tmp_path: Path) -> None:
    rng = random.Random(8)
    texts = {cfg.read_text()}
    deadline = time.monotonic() + 2.5
    rounds = 0
    while time.monotonic() < deadline and rounds < 8:
        value = rounds + 1
        proc = _cli("set", f"custom.first={value}", "link/cfg.py", cwd=tmp_path)
        time.sleep(rng.uniform(0.05, 0.35))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        text = cfg.read_text()
        assert text in texts or _custom(cfg)["first"] == value, text
        texts.add(text)
        rounds += 1
    proc = _cli("set", "custom.first=100", "dir/cfg.py", cwd=tmp_path)
    assert proc.wait(timeout=30) == 0
    assert _temps(cfg.parent) == [] and _custom(cfg) == {"first": 100}


def test_stale_temporary_files_of_dead_runs_are_removed_and_live_ones_kept(cfg: Path) -> None:
    host = apply._host()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        names = {
            "dead": f".losstune-cfg.py.{host}.{dead.pid}.0a0b0c0d.tmp",
            "alive": f".losstune-cfg.py.{host}.{alive.pid}.0a0b0c0d.tmp",
            "old": f".losstune-cfg.py.otherhost.{alive.pid}.0a0b0c0d.tmp",
            "other file": f".losstune-other.py.{host}.{dead.pid}.0a0b0c0d.tmp",
        }
        for name in names.values():
            (cfg.parent / name).write_text("half a file")
        hour_ago = time.time() - 3600
        os.utime(cfg.parent / names["old"], (hour_ago, hour_ago))
        _set(cfg, ("custom.second", 2))
        assert _temps(cfg.parent) == sorted([names["alive"], names["other file"]])
    finally:
        alive.kill()
        alive.wait()


def test_temporary_files_are_removed_when_the_write_fails(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    old = cfg.read_text()
    with pytest.raises(OSError, match="No space"):
        _set(cfg, ("custom.second", 2))
    assert cfg.read_text() == old and _temps(cfg.parent) == []


def test_a_symlink_is_followed_and_kept(cfg: Path, tmp_path: Path) -> None:
    link = tmp_path / "alias.py"
    link.symlink_to(os.path.relpath(cfg, tmp_path))
    code, out = invoke("set", "custom.second=2", "alias.py", cwd=tmp_path)
    assert code == 0, out
    assert link.is_symlink() and os.readlink(link) == "dir/cfg.py"
    assert _custom(cfg) == {"first": 0, "second": 2}
    before = cfg.read_bytes()
    code, out = invoke("set", "loss_cls.gamma=-1.0", "alias.py", cwd=tmp_path)  # refused
    assert code == 2 and link.is_symlink() and cfg.read_bytes() == before


def test_mode_owner_and_group_are_kept(cfg: Path) -> None:
    cfg.chmod(0o640)
    if os.getuid() == 0:
        os.chown(cfg, 12345, 23456)
    _set(cfg, ("custom.second", 2))
    st = cfg.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if os.getuid() == 0:
        assert (st.st_uid, st.st_gid) == (12345, 23456)


def test_a_hard_link_is_said_to_keep_the_old_text(cfg: Path, tmp_path: Path) -> None:
    other = tmp_path / "hard.py"
    os.link(cfg, other)
    code, out = invoke("set", "custom.second=2", "dir/cfg.py", "--dry-run", cwd=tmp_path)
    note = (
        "note: `dir/cfg.py` has 1 other hard link: the edit writes a new file under this name, "
        "and the other name keeps the old text"
    )
    assert code == 0 and note in out
    code, out = invoke("set", "custom.second=2", "dir/cfg.py", cwd=tmp_path)
    assert code == 0 and note in out
    assert _custom(cfg) == {"first": 0, "second": 2} and other.read_text() == CONFIG


def test_output_into_a_missing_folder_says_the_folder_is_missing(cfg: Path, tmp_path: Path) -> None:
    code, out = invoke("set", "custom.second=2", "dir/cfg.py", "-o", "runs/new.py", cwd=tmp_path)
    assert code == 2
    assert out == (
        "losstune: error: dir/cfg.py: the folder `runs` of `runs/new.py` does not exist; create it first; "
        "nothing was written\n"
    )


def test_a_key_that_is_not_a_python_name_is_written_as_a_string_key(write: Callable[..., Path], tmp_path: Path) -> None:
    path = write("cfg.py", "_base_ = []\ntrain_cfg = dict(max_epochs=12)\n")
    hostile = "train_cfg.**{}))\nfrom os import system\nsystem('touch MARK')\nprint(dict(q=1"
    code, out = invoke("set", hostile, path.name, cwd=tmp_path)
    assert code == 0, out
    assert not (tmp_path / "MARK").exists()
    key = "**{}))\nfrom os import system\nsystem('touch MARK')\nprint(dict(q"
    assert losstune.load(path).to_dict()["train_cfg"] == {"max_epochs": 12, key: 1}
    # The key is one quoted string (its item wrapped under the first one), not lines of code.
    assert path.read_text() == (f"_base_ = []\ntrain_cfg = dict(max_epochs=12,\n                 **{{{key!r}: 1}})\n")
    code, out = invoke("set", "train_cfg.class=2", "train_cfg.ｇamma=3", path.name, cwd=tmp_path)
    assert code == 0, out
    assert losstune.load(path).to_dict()["train_cfg"] == {"max_epochs": 12, key: 1, "class": 2, "ｇamma": 3}


def test_new_text_is_verified_in_memory_before_anything_is_written(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from losstune.edit import write

    real = write.plan_files

    def broken_text(*args: Any, **kwargs: Any) -> Any:
        written = real(*args, **kwargs)
        for fc in written.files.values():
            fc.new += "import os\nos.system('touch MARK')\n)\n"
        return written

    writes: list[str] = []
    monkeypatch.setattr(session, "plan_files", broken_text)
    monkeypatch.setattr(session, "atomic_write", lambda path, *a, **k: writes.append(path))
    before = cfg.read_bytes()
    with pytest.raises(EditError, match="would not load") as err:
        _set(cfg, ("custom.second", 2))
    assert err.value.after == "nothing was written" and "LT001" in err.value.lines[0]
    assert writes == [] and cfg.read_bytes() == before


def test_a_failed_verification_after_writing_says_the_files_were_put_back(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "Resolver", _Skewed)
    before = cfg.read_bytes()
    code, out = invoke("set", "custom.second=2", "dir/cfg.py", cwd=tmp_path)
    assert code == 2
    assert out == (
        "losstune: error: dir/cfg.py: after writing, the config did not resolve to the requested values; "
        "please report this with the config; every file was put back as it was\n"
    )
    assert cfg.read_bytes() == before


def test_a_change_made_right_after_the_write_is_kept_and_the_edit_still_succeeds(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = apply.atomic_write

    def another_program_writes_after(path: str, text: str, expected: str | None = None, **kw: Any) -> None:
        real_write(path, text, expected, **kw)
        with open(path, "a") as f:
            f.write("later = dict(value=1)\n")

    monkeypatch.setattr(session, "atomic_write", another_program_writes_after)
    assert _set(cfg, ("custom.second", 2)).written
    tree = losstune.load(cfg).to_dict()
    assert tree["custom"] == {"first": 0, "second": 2} and tree["later"] == {"value": 1}


def test_a_file_removed_or_created_meanwhile_is_left_alone(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = apply.atomic_write

    def remove_first(path: str, text: str, expected: str | None = None, **kw: Any) -> None:
        os.unlink(path)
        real_write(path, text, expected, **kw)

    monkeypatch.setattr(session, "atomic_write", remove_first)
    with pytest.raises(losstune.ConfigError, match="does not exist"):
        _set(cfg, ("custom.second", 2))  # planned again, from a file that is gone
    assert not cfg.exists()
    cfg.write_text(CONFIG)

    def create_first(path: str, text: str, expected: str | None = None, **kw: Any) -> None:
        Path(path).write_text("mine = 1\n")
        real_write(path, text, expected, **kw)

    monkeypatch.setattr(session, "atomic_write", create_first)
    with pytest.raises(EditError, match="exists already"):
        _set(cfg, ("custom.second", 2), out=str(tmp_path / "new.py"))
    assert (tmp_path / "new.py").read_text() == "mine = 1\n" and _temps(tmp_path) == []

"""What a config holds never acts on the terminal or the CI log that shows it: control characters
and escape sequences are shown escaped, rich markup is shown as written, a `::` workflow command
cannot be injected, and a long source line is clipped around its marker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.render.safe import EXCERPT_WIDTH, excerpt, json_text, printable
from tests.conftest import invoke

# A value holding an OSC title sequence and a clear-screen, another with a raw escape and a bell
# in the file itself, and a right-to-left override in a comment.
HOSTILE = (
    "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma='\\x1b]0;PWNED\\x07\\x1b[2J', "
    "alpha='\x1b[31mred\x07')))  # \u202e\n"
)
RAW = ("\x1b", "\x07", "\u202e")


def _no_raw_controls(out: str) -> None:
    for c in RAW:
        assert c not in out, f"{c!r} reached the output"


def test_lint_text_shows_control_characters_escaped(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", HOSTILE)
    code, out = invoke("lint", "cfg.py", "--format", "text", cwd=tmp_path)
    assert code == 1
    assert out == (
        "cfg.py\n"
        "  1:67  error  LT103 wrong-type  `FocalLoss.gamma` must be float, not str ('\\x1b]0;PWNED\\x07\\x1b[2J')\n"
        "       1 | …head=dict(loss_cls=dict(type='FocalLoss', gamma='\\x1b]0;PWNED\\x07\\x1b[2J', "
        "alpha='\\x1b[31mred\\x07')))  # \\u202e\n"
        "                                                            ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "    fix: write a float value\n"
        "  1:100  error  LT103 wrong-type  `FocalLoss.alpha` must be float, not str ('\\x1b[31mred\\x07')\n"
        "       1 | …head=dict(loss_cls=dict(type='FocalLoss', gamma='\\x1b]0;PWNED\\x07\\x1b[2J', "
        "alpha='\\x1b[31mred\\x07')))  # \\u202e\n"
        "                                                                                             "
        "^^^^^^^^^^^^^^^^^\n"
        "    fix: write a float value\n"
        "\n"
        "2 errors, 0 warnings in 1 file (1 config checked).\n"
    )


def test_github_annotations_cannot_start_a_command(write: Callable[..., Path], tmp_path: Path) -> None:
    # A key with a line break followed by a workflow command of its own.
    write("cfg.py", "model = dict(loss_cls=dict(type='FocalLoss', **{'x\\n::error file=evil.py::owned': 1}))\n")
    code, out = invoke("lint", "cfg.py", "--format", "github", cwd=tmp_path)
    assert code == 1
    assert out.count("\n") == 1 and out.startswith("::error file=cfg.py,line=1,")
    assert "\\n::error file=evil.py::owned" in out
    write("cfg.py", HOSTILE)
    code, out = invoke("lint", "cfg.py", "--format", "github", cwd=tmp_path)
    _no_raw_controls(out)
    assert out.count("\n") == 2


def test_every_text_report_escapes_what_the_config_holds(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", HOSTILE)
    write("other.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n")
    for args in (
        ("explain", "cfg.py", "--no-steps"),
        ("diff", "cfg.py", "other.py"),
        ("diff", "cfg.py", "other.py", "other.py"),
        ("lint", "cfg.py"),
        ("set", "loss_cls.gamma=1.5", "cfg.py", "--dry-run"),
    ):
        code, out = invoke(*args, cwd=tmp_path)
        assert code in (0, 1, 2), args
        _no_raw_controls(out)
        assert "\\x1b" in out, args


def test_error_paragraphs_escape_the_source_and_the_message(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", "x = 1\nloss = dict(type='FocalLoss', gamma=\x1b[2J)\n")
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code == 2
    _no_raw_controls(out)
    assert "\\x1b[2J" in out


def test_rich_markup_in_a_config_or_a_schema_is_shown_as_written(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "schema.yaml",
        """
        losses:
          - name: MarkupLoss
            summary: "[bold red]loud[/] summary"
            params:
              weight: {type: float, default: 1.0, description: "[link=https://evil.example]click[/link]"}
        """,
    )
    write("cfg.py", "model = dict(loss_cls=dict(type='MarkupLoss', weight=1.0, note='[blink]x[/blink]'))\n")
    code, out = invoke("explain", "cfg.py", "--no-steps", "--schema", "schema.yaml", cwd=tmp_path)
    assert code == 0, out
    assert "'[blink]x[/blink]'" in out and "[link=https://evil.example]click[/link]" in out
    code, out = invoke("schema", "MarkupLoss", "--schema", "schema.yaml", cwd=tmp_path)
    assert code == 0, out
    assert "[bold red]loud[/] summary" in out and "[link=https://evil.example]click[/link]" in out


def test_json_keeps_the_characters_and_escapes_those_json_leaves_raw(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("cfg.py", "model = dict(loss_cls=dict(type='FocalLoss', gamma='\\x9b2J\\x7f\\u202e', alpha='\\x1b'))\n")
    code, out = invoke("explain", "cfg.py", "--no-steps", "--format", "json", cwd=tmp_path)
    assert code == 0
    _no_raw_controls(out)
    assert "\x9b" not in out and "\x7f" not in out
    params = {p["name"]: p["value"] for p in json.loads(out)["losses"][0]["params"]}
    assert params["gamma"] == "\x9b2J\x7f\u202e" and params["alpha"] == "\x1b"
    assert json.loads(json_text(json.dumps("\x85\u2066", ensure_ascii=False))) == "\x85\u2066"


def test_a_syntax_error_on_a_ten_megabyte_line_prints_a_clipped_excerpt(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("pyproject.toml", "[tool.losstune]\nmax-file-size = 20_000_000\n")  # the default refuses 10 MB
    for text, clipped in (("x = '" + "a" * 10_000_000 + "' + (]\n", "head"), ("x = (] # " + "a" * 10_000_000, "tail")):
        write("big.py", text)
        code, out = invoke("explain", "big.py", cwd=tmp_path)
        assert code == 2
        assert len(out) < 1_000
        [source, marker] = [line for line in out.splitlines() if "|" in line or line.strip().startswith("^")]
        if clipped == "head":
            assert source.startswith("    1 | …aaa") and source.endswith("aaa' + (]")
        else:
            assert source.startswith("    1 | x = (] # aaa") and source.endswith("aaa…")
        assert marker.index("^") == source.index("]") and marker.strip() == "^"


def test_a_finding_about_a_huge_value_keeps_its_beginning_and_end_in_text_and_all_of_it_in_json(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    huge = "x" * 100_000
    write("bad.py", f"model = dict(loss_cls=dict(type='FocalLoss', reduction='{huge}'))\n")
    write("good.py", "model = dict(loss_cls=dict(type='FocalLoss', reduction='mean'))\n")
    for args in (("lint", "bad.py"), ("set", "--dry-run", f"loss_cls.reduction={huge}", "good.py")):
        code, out = invoke(*args, cwd=tmp_path)
        assert code in (1, 2) and max(len(line) for line in out.splitlines()) < 600, args
        [line] = [line for line in out.splitlines() if "LT105" in line]
        assert re.search(
            r"'x{200,}… \(99,[0-9]{3} characters left out\) …x{50,}' is not one of 'none', 'mean', 'sum'", line
        )
    code, out = invoke("lint", "--format", "json", "bad.py", cwd=tmp_path)
    [finding] = [d for d in json.loads(out)["diagnostics"] if d["code"] == "LT105"]
    assert huge in finding["message"]


@pytest.mark.parametrize(
    ("line", "start", "end", "text", "at", "width"),
    [
        ("x = 1", 4, 5, "x = 1", 4, 1),
        ("\tx = 'a\x1bb'", 1, 2, " x = 'a\\x1bb'", 1, 1),
        ("s = 'a\x1bb'  # c", 4, 10, "s = 'a\\x1bb'  # c", 4, 9),
        ("k = '日本' + x", 12, 13, "k = '日本' + x", 14, 1),
        ("y = 1\r\n", 4, None, "y = 1", 4, 1),
        ("a" * 300, 290, 295, "…" + "a" * EXCERPT_WIDTH, 1 + EXCERPT_WIDTH - 10, 5),
        ("a" * 300, 10, 300, "a" * EXCERPT_WIDTH + "…", 10, EXCERPT_WIDTH - 10),
        ("a" * 150 + "b" * 150, 150, 151, "…" + "a" * 25 + "b" * 75 + "…", 26, 1),
    ],
)
def test_excerpt(line: str, start: int, end: int | None, text: str, at: int, width: int) -> None:
    shown = excerpt(line, start, end)
    assert (shown.text, shown.marker_at, shown.marker_width) == (text, at, width)


def test_printable() -> None:
    assert printable("plain text, ünïcode, tab\tkept") == "plain text, ünïcode, tab\tkept"
    assert printable("a\nb\rc\x00\x7f\x9b\u2028\u202e") == "a\\nb\\rc\\x00\\x7f\\x9b\\u2028\\u202e"


def test_an_edit_that_cannot_be_made_is_a_json_error_report(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n")
    code, out = invoke("set", "loss_cls.\x1b[2Jgama=1.5", "cfg.py", "--dry-run", "--format", "json", cwd=tmp_path)
    assert code == 2
    data = json.loads(out)
    assert data["kind"] == "error"
    assert [(d["code"], d["key"]) for d in data["diagnostics"]] == [("LT102", "model.bbox_head.loss_cls.\x1b[2Jgama")]
    assert data["message"] == "cfg.py: the edit would make the config invalid; nothing was written"
    assert data["details"] and "\x1b[2Jgama" in data["details"][0]
    code, out = invoke("set", "loss_cls.\x1b[2Jgama=1.5", "cfg.py", "--dry-run", cwd=tmp_path)
    assert code == 2 and out.startswith("losstune: error: cfg.py: the edit would make") and "\\x1b[2Jgama" in out
    _no_raw_controls(out)


def test_twenty_thousand_warnings_are_printed_in_well_under_a_second() -> None:
    import time

    from losstune.model import Diagnostic, Severity, Span
    from losstune.render.errors import render_diagnostics

    found = [
        Diagnostic("LT010", "opaque-value", Severity.WARNING, "unknown", Span("b.py", i, 5, i, 9), fix="write it")
        for i in range(1, 20_001)
    ]
    lines = {("b.py", i): f"x = f({i})" for i in range(1, 20_001)}
    start = time.process_time()
    out = render_diagnostics(found, lines)
    assert time.process_time() - start < 1.0
    assert out.count("\n") == 4 * 20_000
    assert out.startswith(
        "b.py:1:5: warning[LT010] opaque-value: unknown\n    1 | x = f(1)\n            ^^^^\n  fix: write it\n"
    )


def test_a_file_name_that_is_not_utf8_leaves_the_output_utf8(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    name = os.fsdecode(b"cfg\xff.py")
    (tmp_path / name).write_text("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=-1.0)))\n")
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for args in (("explain", name, "--format", "json", "--no-steps"), ("lint", name), ("lint", name, "-f", "json")):
        out = subprocess.run([sys.executable, "-m", "losstune", *args], capture_output=True, cwd=tmp_path, env=env)
        text = out.stdout.decode("utf-8")  # raises if a raw 0xff byte reached the output
        assert "cfg\\udcff.py" in text, args
        if "json" in args:
            assert json.loads(text)


def test_unusable_settings_or_schema_are_a_json_error_report(write: Callable[..., Path], tmp_path: Path) -> None:
    write("cfg.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n")
    write("pyproject.toml", "[tool.losstune]\nmmdet-version = 7\n")
    for args in (("explain", "cfg.py", "--no-steps"), ("lint", "cfg.py"), ("set", "loss_cls.gamma=1.0", "cfg.py")):
        code, out = invoke(*args, "--format", "json", cwd=tmp_path)
        assert code == 2
        data = json.loads(out)
        assert data["kind"] == "error" and "pyproject.toml" in data["message"], args
    write("pyproject.toml", "[tool.losstune]\n")
    write("schema.yaml", "losses: [{params: 3}]\n")
    code, out = invoke("lint", "cfg.py", "--schema", "schema.yaml", "--format", "json", cwd=tmp_path)
    assert code == 2 and json.loads(out)["message"].startswith("the schema cannot be used: schema.yaml")

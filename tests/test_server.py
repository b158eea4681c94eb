"""``losstune server`` end to end: a real LSP client (pytest-lsp) drives it over stdio on a copy of
MMDetection's configs."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from tests.conftest import PROJECTS  # noqa: E402

CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
pytestmark = pytest.mark.skipif(not CONFIGS.is_dir(), reason="MMDetection 3.3.0 configs not downloaded")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """RetinaNet's configs and the bases they use, copied."""
    for part in ("retinanet", "_base_"):
        shutil.copytree(CONFIGS / part, tmp_path / part)
    return tmp_path


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "losstune", "server"]))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text() if text is None else text
            )
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


async def _type(client: LanguageClient, uri: str, version: int, line: int, text: str) -> None:
    """Insert ``text`` at the start of 0-based ``line``, then wait for the diagnostics."""
    at = types.Position(line, 0)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)


CHILD = "retinanet/retinanet_r50_fpn_1x_coco.py"
BASE = "_base_/models/retinanet_r50_fpn.py"


def _line_of(text: str, part: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if part in line)


@pytest.mark.asyncio
async def test_a_typo_typed_into_a_loss_is_a_diagnostic_at_its_exact_range(client: LanguageClient, tree: Path) -> None:
    uri = await _open(client, tree / CHILD)
    assert list(client.diagnostics[uri]) == []
    # A non-ASCII value before the typo on the same line: positions count UTF-16 code units.
    line = "model = dict(bbox_head=dict(loss_cls=dict(note='é😀', gama=2.0)))\n"
    await _type(client, uri, 2, 7, line)
    found = {d.code: d for d in client.diagnostics[uri] if "gama" in d.message}
    d = found["LT102"]
    key = line.index("gama")  # the finding covers the key that is wrong, as lint's does
    start = len(line[:key].encode("utf-16-le")) // 2
    assert start == key + 1  # the emoji takes two UTF-16 code units
    assert d.range == types.Range(types.Position(7, start), types.Position(7, start + 4))
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.code_description is not None and d.code_description.href.startswith("https://")
    assert "did you mean `gamma`" in d.message


@pytest.mark.asyncio
async def test_a_new_config_not_yet_saved_is_checked_as_its_buffer_is(client: LanguageClient, tree: Path) -> None:
    # The buffer is the file: one the editor has not written to disk yet was 'does not exist'.
    new = tree / "retinanet" / "new_config.py"
    text = "_base_ = './retinanet_r50_fpn_1x_coco.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gama=2.0)))\n"
    uri = await _open(client, new, text)
    assert not new.exists()
    assert [(d.code, d.range.start.line) for d in client.diagnostics[uri]] == [("LT102", 1)]


OVERRIDE = "model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5)))\n"


async def _hover(client: LanguageClient, uri: str, text: str, line: int, word: str) -> types.Hover | None:
    """The hover on the first ``word`` of 0-based ``line`` of ``text``, the document at ``uri``."""
    at = types.Position(line, text.splitlines()[line].index(word))
    return await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), at))


async def _until(client: LanguageClient, uri: str, code: str) -> list[types.Diagnostic]:
    """The diagnostics of ``uri`` once one has ``code`` (a few publications at most)."""
    for _ in range(6):
        if any(d.code == code for d in client.diagnostics.get(uri, [])):
            break
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return [d for d in client.diagnostics[uri] if d.code == code]


@pytest.mark.asyncio
async def test_editing_an_open_base_rechecks_the_open_config_that_inherits_it(
    client: LanguageClient, tree: Path
) -> None:
    text = (tree / CHILD).read_text() + OVERRIDE
    child = await _open(client, tree / CHILD, text)
    assert list(client.diagnostics[child]) == []
    base = tree / BASE
    base_uri = await _open(client, base)
    at = _line_of(base.read_text(), "type='FocalLoss'")
    start = base.read_text().splitlines()[at].index("FocalLoss")
    # The base's loss becomes a cross-entropy loss, unsaved: the child's `gamma` is now unknown.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=base_uri, version=2),
            [
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(at, start), types.Position(at, start + len("FocalLoss"))),
                    text="CrossEntropyLoss",
                )
            ],
        )
    )
    found = await _until(client, child, "LT102")
    line = _line_of(text, "gamma=1.5")
    column = OVERRIDE.index("gamma")
    # The base's own `alpha` is an error in the base now: shown on the entry that names it too.
    entry = f"'../{BASE}'"
    at_entry = _line_of(text, entry)
    start = text.splitlines()[at_entry].index(entry)
    assert [d.range for d in found] == [
        types.Range(types.Position(line, column), types.Position(line, column + 5)),
        types.Range(types.Position(at_entry, start), types.Position(at_entry, start + len(entry))),
    ]


@pytest.mark.asyncio
async def test_a_base_changed_on_disk_rechecks_the_open_config_that_inherits_it(
    client: LanguageClient, tree: Path
) -> None:
    child = await _open(client, tree / CHILD, (tree / CHILD).read_text() + OVERRIDE)
    assert list(client.diagnostics[child]) == []
    base = tree / BASE
    base.write_text(base.read_text().replace("type='FocalLoss'", "type='CrossEntropyLoss'"))
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams([types.FileEvent(base.as_uri(), types.FileChangeType.Changed)])
    )
    assert [d.message.split(" (")[0] for d in await _until(client, child, "LT102")] == [
        "`CrossEntropyLoss` has no parameter `gamma`",
        f"in `../{BASE}` line 47: `CrossEntropyLoss` has no parameter `alpha`",
    ]


@pytest.mark.asyncio
async def test_a_broken_buffer_is_a_diagnostic_and_a_malformed_request_an_error(
    client: LanguageClient, tree: Path
) -> None:
    notes = tree / "notes.txt"
    notes.write_text("not a config\n")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=notes.as_uri(), language_id="plaintext", version=1, text="x")
        )
    )
    uri = await _open(client, tree / CHILD, "_base_ = [\n")
    assert notes.as_uri() not in client.diagnostics  # only configs are checked
    assert [d.code for d in client.diagnostics[uri]] == ["LT001"]
    with pytest.raises(Exception, match=r"(?i)method not found"):
        await client.protocol.send_request_async("losstune/nothing", {})
    # Params that are not a hover's, written as they come: the server answers an error, and lives.
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 999, "method": "textDocument/hover", "params": {"position": {"line": "x"}}}
    ).encode()
    assert client.protocol.writer is not None
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await _type(client, uri, 2, 0, "")  # still alive: it answers the next change
    assert [d.code for d in client.diagnostics[uri]] == ["LT001"]


@pytest.mark.asyncio
async def test_hover_on_an_overriding_value_shows_it_its_origin_what_it_overrides_and_its_meaning(
    client: LanguageClient, tree: Path
) -> None:
    text = (tree / CHILD).read_text() + "model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5)))\n"
    uri = await _open(client, tree / CHILD, text)
    line = _line_of(text, "gamma=1.5")
    hover = await _hover(client, uri, text, line, "gamma")
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    at = _line_of((tree / BASE).read_text(), "gamma=2.0") + 1
    assert hover.contents.value.splitlines()[:5] == [
        "**model.bbox_head.loss_cls.gamma** = `1.5`",
        "",
        f"set at `retinanet_r50_fpn_1x_coco.py:{line + 1}`",
        "",
        f"overrides: `../{BASE}:{at}` (`2.0`)",
    ]
    assert "default `2.0`" in hover.contents.value
    on_type = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(line, 0))
    )
    assert on_type is None  # `model` is not a loss key
    base_text = (tree / BASE).read_text()
    base_uri = await _open(client, tree / BASE)
    at = _line_of(base_text, "type='FocalLoss'")
    on_type = await _hover(client, base_uri, base_text, at, "Focal")
    assert on_type is not None and isinstance(on_type.contents, types.MarkupContent)
    assert on_type.contents.value.startswith("**FocalLoss** (MMDetection)\n\n")
    assert "- `gamma` = `2.0`: " in on_type.contents.value


@pytest.mark.asyncio
async def test_definition_of_a_name_is_the_line_that_sets_it_and_of_a_base_path_that_file(
    client: LanguageClient, tree: Path
) -> None:
    text = (tree / CHILD).read_text() + "g = _base_.model.bbox_head.loss_cls.gamma\n"
    uri = await _open(client, tree / CHILD, text)
    line = _line_of(text, "g = _base_")
    assert await _definition(client, uri, line, 8) == [(BASE, _line_of((tree / BASE).read_text(), "gamma=2.0"))]
    entry = _line_of(text, "retinanet_r50_fpn.py")
    assert await _definition(client, uri, entry, 10) == [(BASE, 0)]


async def _definition(client: LanguageClient, uri: str, line: int, character: int) -> list[tuple[str, int]]:
    """Where definition at a position goes: (file relative to the copied tree, 0-based line)."""
    got = await client.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
    )
    locations = [got] if isinstance(got, types.Location) else got or []
    assert all(isinstance(loc, types.Location) for loc in locations)
    root = uri[: uri.index("/retinanet/")] if "/retinanet/" in uri else uri[: uri.index("/_base_/")]
    return [
        (loc.uri.removeprefix(root + "/"), loc.range.start.line) for loc in locations if isinstance(loc, types.Location)
    ]


@pytest.mark.asyncio
async def test_definition_of_a_key_goes_where_its_value_is_set(client: LanguageClient, tree: Path) -> None:
    extra = (
        "num_classes = 3\n"
        "w = 2.0\n"
        "model = dict(\n"
        "    backbone=dict(depth=101),\n"
        "    bbox_head=dict(\n"
        "        num_classes=num_classes,\n"
        "        loss_cls=dict(gamma=1.5),\n"
        "        loss_bbox=dict(loss_weight=0.5 * w)))\n"
    )
    text = (tree / CHILD).read_text() + extra
    uri = await _open(client, tree / CHILD, text)
    rows = text.splitlines()
    base = (tree / BASE).read_text()

    def at(part: str, offset: int = 0) -> tuple[int, int]:
        line = _line_of(text, part)
        return line, rows[line].index(part) + offset

    # A dict merged over the base's: the base's write of it, where `type` and the rest are set.
    assert await _definition(client, uri, *at("loss_cls")) == [(BASE, _line_of(base, "loss_cls=dict("))]
    assert await _definition(client, uri, *at("backbone")) == [(BASE, _line_of(base, "backbone=dict("))]
    # A value written here: itself; one set from a name, or read by an expression: that name's line.
    here = "retinanet/retinanet_r50_fpn_1x_coco.py"
    assert await _definition(client, uri, *at("gamma")) == [(here, at("gamma")[0])]
    assert await _definition(client, uri, *at("num_classes=num_classes")) == [(here, at("num_classes = 3")[0])]
    assert await _definition(client, uri, *at("num_classes=num_classes", 14)) == [(here, at("num_classes = 3")[0])]
    assert await _definition(client, uri, *at("* w", 2)) == [(here, at("w = 2.0")[0])]
    assert await _definition(client, uri, *at("loss_weight")) == [(here, at("loss_weight")[0])]
    # Nowhere in particular: nothing, and the server answers the next question.
    assert await _definition(client, uri, len(rows) + 5, 0) == []
    assert await _definition(client, uri, at("model = dict(")[0] + 1, 0) == []


@pytest.mark.asyncio
async def test_a_code_action_fixes_the_finding_as_lint_fix_does_and_writes_nothing(
    client: LanguageClient, tree: Path
) -> None:
    before = (tree / CHILD).read_text()
    text = before + "model = dict(bbox_head=dict(loss_cls=dict(reductoin='mean')))\n"
    uri = await _open(client, tree / CHILD, text)
    line = _line_of(text, "reductoin")
    at = types.Range(types.Position(line, 45), types.Position(line, 45))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(types.TextDocumentIdentifier(uri), at, types.CodeActionContext(diagnostics=[]))
    )
    assert actions is not None
    by_title = {a.title: a for a in actions if isinstance(a, types.CodeAction)}
    assert set(by_title) == {
        "LT102: rename it to `reduction`",
        "LT102: add `# noqa: LT102` to the line",
        "losstune: fix 1 finding (the safe fixes, as lint --fix)",
    }
    whole = by_title["losstune: fix 1 finding (the safe fixes, as lint --fix)"]
    assert whole.kind == "source.fixAll.losstune" and whole.edit is not None and whole.edit.changes is not None
    assert [e.new_text for e in whole.edit.changes[uri]] == [text.replace("reductoin", "reduction")]
    fix = by_title["LT102: rename it to `reduction`"]
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    assert fix.edit is not None and fix.edit.changes is not None
    (edit,) = fix.edit.changes[uri]
    start = text.splitlines()[line].index("reductoin")
    assert edit == types.TextEdit(
        types.Range(types.Position(line, start), types.Position(line, start + 9)), "reduction"
    )
    assert (tree / CHILD).read_text() == before  # nothing written
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []


@pytest.mark.asyncio
async def test_completion_in_a_loss_dict_offers_its_parameters_choices_and_types(
    client: LanguageClient, tree: Path
) -> None:
    text = (tree / CHILD).read_text() + "model = dict(bbox_head=dict(loss_cls=dict(reduction='', gamma=1.5)))\n"
    uri = await _open(client, tree / CHILD, text)
    line = _line_of(text, "reduction=''")
    row = text.splitlines()[line]

    async def at(column: int) -> dict[str, str | None]:
        got = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(line, column))
        )
        items = got.items if isinstance(got, types.CompletionList) else got or []
        return {i.label: i.detail for i in items}

    names = await at(row.index("gamma"))
    assert names["gamma"] == "= 1.5 (set)" and names["alpha"] == "= 0.25 (set)"
    assert "reduction" in names and "type" not in names
    choices = await at(row.index("''") + 1)
    assert set(choices) == {"'none'", "'mean'", "'sum'"}
    assert await at(0) == {}  # outside every loss dict


async def _references(
    client: LanguageClient, uri: str, line: int, character: int, declaration: bool = False
) -> list[tuple[str, int, int, int]]:
    got = await client.text_document_references_async(
        types.ReferenceParams(
            context=types.ReferenceContext(declaration),
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(line, character),
        )
    )
    return sorted(
        (
            Path(loc.uri.removeprefix("file://")).name,
            loc.range.start.line,
            loc.range.start.character,
            loc.range.end.character,
        )
        for loc in got or []
    )


def _depth_writes(tree: Path) -> list[tuple[str, int, int, int]]:
    """Where the copied RetinaNet configs write `depth=` (each inherits the base)."""
    out = []
    for config in sorted((tree / "retinanet").glob("*.py")):
        for i, row in enumerate(config.read_text().splitlines()):
            if "depth=" in row:
                out.append((config.name, i, row.index("depth"), row.index("depth") + 5))
    return sorted(out)


@pytest.mark.asyncio
async def test_references_on_a_key_of_a_base_are_the_keys_of_the_configs_that_override_it(
    client: LanguageClient, tree: Path
) -> None:
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            types.WorkspaceFoldersChangeEvent(added=[types.WorkspaceFolder(tree.as_uri(), "configs")], removed=[])
        )
    )
    base_text = (tree / BASE).read_text()
    uri = await _open(client, tree / BASE)
    line = _line_of(base_text, "depth=50")
    column = base_text.splitlines()[line].index("depth")
    expected = _depth_writes(tree)
    assert len(expected) == 14
    assert await _references(client, uri, line, column + 2) == expected
    declaration = ("retinanet_r50_fpn.py", line, column, column + 5)
    assert await _references(client, uri, line, column + 7, declaration=True) == sorted([declaration, *expected])
    # A key nothing overrides, a line that is not a key, a line past the end: no references.
    assert await _references(client, uri, _line_of(base_text, "type='RetinaNet'"), 8) == []
    assert await _references(client, uri, 0, 0) == []
    assert await _references(client, uri, 10_000, 3) == []


@pytest.mark.asyncio
async def test_references_follow_the_open_buffers_as_they_are_edited(client: LanguageClient, tree: Path) -> None:
    base_text = (tree / BASE).read_text()
    base = await _open(client, tree / BASE)
    line = _line_of(base_text, "gamma=2.0")
    column = base_text.splitlines()[line].index("gamma")
    assert await _references(client, base, line, column) == []
    # An unsaved child that overrides it is one; the file on disk says nothing of it.
    child_path = tree / "retinanet" / "retinanet_gamma.py"
    text = "_base_ = './retinanet_r50_fpn_1x_coco.py'\n" + OVERRIDE
    child_path.write_text("_base_ = './retinanet_r50_fpn_1x_coco.py'\n")
    child = await _open(client, child_path, text)
    at = OVERRIDE.index("gamma")
    assert await _references(client, base, line, column) == [("retinanet_gamma.py", 1, at, at + 5)]
    # The child stops overriding it, then stops inheriting the base at all.
    await _type(client, child, 2, 1, "# ")
    assert await _references(client, base, line, column) == []
    await _type(client, child, 3, 0, "# ")
    await _type(client, child, 4, 1, OVERRIDE)
    assert await _references(client, base, line, column) == []
    # The base edited above the key: the place it asks about moves with it; what overrides it does not.
    await _type(client, child, 5, 0, "_base_ = './retinanet_r50_fpn_1x_coco.py'\n")
    await _type(client, base, 2, 0, "\n")
    assert await _references(client, base, line + 1, column, declaration=True) == [
        ("retinanet_gamma.py", 2, at, at + 5),
        ("retinanet_r50_fpn.py", line + 1, column, column + 5),
    ]


@pytest.mark.asyncio
async def test_a_malformed_references_request_is_an_error_and_the_server_goes_on(
    client: LanguageClient, tree: Path
) -> None:
    uri = await _open(client, tree / BASE)
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 998,
            "method": "textDocument/references",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 1}},
        }
    ).encode()
    assert client.protocol.writer is not None
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert await _references(client, "file:///nowhere/x.py", 0, 0) == []
    assert await _references(client, "untitled:Untitled-1", 0, 0) == []
    line = _line_of((tree / BASE).read_text(), "depth=50")
    assert len(await _references(client, uri, line, 10)) == 14


@pytest.mark.asyncio
async def test_hover_in_a_base_lists_the_configs_of_the_workspace_that_override_the_value(
    client: LanguageClient, tree: Path
) -> None:
    # Six configs write gamma over the base: five directly, one through another that inherits it.
    head = "_base_ = './retinanet_r50_fpn_1x_coco.py'\n"
    for i in range(5):
        (tree / "retinanet" / f"g{i}.py").write_text(
            head + f"model = dict(bbox_head=dict(loss_cls=dict(gamma={i}.5)))\n"
        )
    (tree / "retinanet" / "g4_2x.py").write_text("_base_ = './g4.py'\nmax_epochs = 24\n")
    base_text = (tree / BASE).read_text()
    uri = await _open(client, tree / BASE)
    line = _line_of(base_text, "gamma=2.0")
    hover = await _hover(client, uri, base_text, line, "gamma")
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    listed = text[text.index("overridden by") :].split("\n\n")[0].splitlines()
    assert listed == [
        "overridden by 6 config(s) of the workspace, in 5 places:",
        *(f"- `../../retinanet/g{i}.py:2` `{i}.5`" for i in range(5)),
    ]
    # One more: the list stops at five, and says how many it leaves out.
    (tree / "retinanet" / "g5.py").write_text(
        head + "model = dict(bbox_head=dict(loss_cls=dict(gamma=dict(a=1,\n  b=2))))\n"
    )
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            [types.FileEvent((tree / "retinanet" / "g5.py").as_uri(), types.FileChangeType.Created)]
        )
    )
    hover = await _hover(client, uri, base_text, line, "gamma")
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    listed = text[text.index("overridden by") :].split("\n\n")[0].splitlines()
    assert listed[0] == "overridden by 7 config(s) of the workspace, in 6 places:"
    assert listed[-1] == "- and 1 more (Find References lists them all)" and len(listed) == 7


HINTS = types.ClientCapabilities(
    text_document=types.TextDocumentClientCapabilities(inlay_hint=types.InlayHintClientCapabilities()),
    workspace=types.WorkspaceClientCapabilities(
        inlay_hint=types.InlayHintWorkspaceClientCapabilities(refresh_support=True)
    ),
)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "losstune", "server"]))
async def hinting(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A client that shows inlay hints."""
    answer = await lsp_client.initialize_session(types.InitializeParams(capabilities=HINTS))
    assert answer.capabilities.inlay_hint_provider is not None
    yield
    await lsp_client.shutdown_session()


async def _hints(client: LanguageClient, uri: str, first: int, last: int) -> list[tuple[int, int, str, str]]:
    got = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            types.TextDocumentIdentifier(uri), types.Range(types.Position(first, 0), types.Position(last, 0))
        )
    )
    out = []
    for hint in got or []:
        assert not isinstance(hint.label, str) and hint.label[0].location is not None
        where = hint.label[0].location
        out.append((hint.position.line, hint.position.character, hint.label[0].value, where.uri.rsplit("/", 1)[1]))
    return out


@pytest.mark.asyncio
async def test_inlay_hints_show_what_a_loss_dict_inherits_and_where_it_is_set(
    hinting: LanguageClient, tree: Path
) -> None:
    client = hinting
    refreshed: list[object] = []

    @client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(params: None) -> None:
        refreshed.append(params)

    text = (tree / CHILD).read_text() + OVERRIDE
    uri = await _open(client, tree / CHILD, text)
    line = _line_of(text, "gamma=1.5")
    after = OVERRIDE.index("1.5") + 3  # after the last key the dict writes
    base = (tree / BASE).read_text()

    def set_at(part: str) -> int:
        return _line_of(base, part) + 1

    name = "retinanet_r50_fpn.py"
    assert await _hints(client, uri, 0, line + 1) == [
        (line, after, f"type='FocalLoss' ← {name}:{set_at('FocalLoss')}", name),
        (line, after, f"use_sigmoid=True ← {name}:{set_at('use_sigmoid=True')}", name),
        (line, after, f"alpha=0.25 ← {name}:{set_at('alpha=0.25')}", name),
        (line, after, f"loss_weight=1.0 ← {name}:{set_at('loss_weight=1.0')}", name),
    ]
    assert await _hints(client, uri, 0, line - 1) == []  # outside the range asked for
    # The base writes its dicts whole: nothing inherited, no hint.
    base_uri = await _open(client, tree / BASE)
    assert await _hints(client, base_uri, 0, len(base.splitlines())) == []
    # The base edited: the client is asked to take the hints again, and they follow.
    at = _line_of(base, "alpha=0.25")
    start = base.splitlines()[at].index("0.25")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=base_uri, version=2),
            [
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(at, start), types.Position(at, start + 4)), text="0.5"
                )
            ],
        )
    )
    for _ in range(20):
        if refreshed:
            break
        await asyncio.sleep(0.05)
    assert refreshed
    hints = await _hints(client, uri, line, line + 1)
    assert hints[2][2] == f"alpha=0.5 ← {name}:{set_at('alpha=0.25')}"


@pytest.mark.asyncio
async def test_inlay_hints_are_not_offered_to_a_client_that_does_not_show_them(
    client: LanguageClient, tree: Path
) -> None:
    uri = await _open(client, tree / CHILD, (tree / CHILD).read_text() + OVERRIDE)
    with pytest.raises(Exception, match=r"(?i)method not found"):
        await _hints(client, uri, 0, 20)


@pytest.mark.asyncio
async def test_a_malformed_inlay_hint_request_is_an_error_and_the_server_goes_on(
    hinting: LanguageClient, tree: Path
) -> None:
    client = hinting
    text = (tree / CHILD).read_text() + OVERRIDE
    uri = await _open(client, tree / CHILD, text)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 997, "method": "textDocument/inlayHint", "params": {"textDocument": {"uri": uri}}}
    ).encode()
    assert client.protocol.writer is not None
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert await _hints(client, "file:///nowhere/x.py", 0, 5) == []
    assert len(await _hints(client, uri, 0, len(text.splitlines()))) == 4

"""``losstune server`` on an open config whose bases (not open) have errors: each shows on the
open config's own ``_base_`` entry that leads to the file, and points to where it is."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from tests.test_server import _open  # noqa: E402


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "losstune", "server"]))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


CHILD = "_base_ = [\n    './mid.py',\n    './plain.py',\n]\nmodel = dict(depth=50)\n"


def _entry(text: str, entry: str) -> types.Range:
    """The range of the string ``'entry'`` in ``text``."""
    line = next(i for i, t in enumerate(text.splitlines()) if f"'{entry}'" in t)
    start = text.splitlines()[line].index(f"'{entry}'")
    return types.Range(types.Position(line, start), types.Position(line, start + len(entry) + 2))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A child inheriting ``mid.py`` (which inherits a broken ``models/broken.py``) and a clean base."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "configs" / "child.py").write_text(CHILD)
    (tmp_path / "configs" / "mid.py").write_text("_base_ = '../models/broken.py'\nlr = 0.1\n")
    (tmp_path / "configs" / "plain.py").write_text("seed = 1\n")
    (tmp_path / "models" / "broken.py").write_text("a = 1\nb = 2\nmodel = dict(depth=\n")
    return tmp_path


@pytest.mark.asyncio
async def test_a_syntax_error_in_a_base_not_open_shows_on_the_entry_that_leads_to_it(
    client: LanguageClient, tree: Path
) -> None:
    child = await _open(client, tree / "configs" / "child.py")
    found = list(client.diagnostics[child])
    assert [(d.range, d.severity, d.code) for d in found] == [
        (_entry(CHILD, "./mid.py"), types.DiagnosticSeverity.Error, "LT001")
    ]
    assert found[0].message.startswith("in `../models/broken.py` line 3: ")
    related = found[0].related_information or []
    assert [(r.location.uri, r.location.range.start.line) for r in related][:1] == [
        ((tree / "models" / "broken.py").as_uri(), 2)
    ]


@pytest.mark.asyncio
async def test_a_base_that_is_not_utf8_shows_on_its_own_entry(client: LanguageClient, tree: Path) -> None:
    (tree / "configs" / "plain.py").write_bytes(b"seed = 1\nname = '\xff'\n")
    (tree / "models" / "broken.py").write_text("model = dict(depth=50)\n")
    child = await _open(client, tree / "configs" / "child.py")
    found = list(client.diagnostics[child])
    assert [(d.range, d.code) for d in found] == [(_entry(CHILD, "./plain.py"), "LT002")]
    assert found[0].message.startswith("in `plain.py` line 2: ")


@pytest.mark.asyncio
async def test_an_open_base_keeps_its_own_findings_and_the_child_still_shows_the_error(
    client: LanguageClient, tree: Path
) -> None:
    broken = tree / "models" / "broken.py"
    broken_uri = await _open(client, broken)
    assert [d.code for d in client.diagnostics[broken_uri]] == ["LT001"]
    assert client.diagnostics[broken_uri][0].range.start.line == 2
    child = await _open(client, tree / "configs" / "child.py")
    assert [(d.range, d.code) for d in client.diagnostics[child]] == [(_entry(CHILD, "./mid.py"), "LT001")]


def test_a_package_base_entry_leads_to_the_packages_config(tmp_path: Path) -> None:
    from losstune.loader.pkgfind import PackageFinder
    from losstune.loader.resolve import Resolver
    from losstune.server.inherited import entry_files

    package = tmp_path / "site" / "fakepkg"
    (package / ".mim" / "configs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    base = package / ".mim" / "configs" / "base.py"
    base.write_text("model = dict(\n")  # a syntax error
    child = tmp_path / "child.py"
    text = "_base_ = ['fakepkg::base.py', 'fakepkg::missing.py']\n"
    child.write_text(text)
    resolver = Resolver(packages=PackageFinder([str(tmp_path / "site")], site_dirs=[]))
    resolver.resolve(str(child))
    entries = entry_files(str(child), text, resolver)
    # The missing one has its own finding and leads nowhere; the other leads to the package's file.
    assert [(span.column, str(base) in files) for span, files in entries] == [(11, True)]

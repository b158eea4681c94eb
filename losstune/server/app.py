"""The language server: pygls wiring of the workspace's checks, hover, definitions and fixes.

Diagnostics are published on open, on save and after a short pause in typing; editing a document
re-checks every open config that read it (a base). Every request is answered from the open
documents' texts; nothing is ever written to disk nor executed."""

from __future__ import annotations

import asyncio
import os
import signal
from types import FrameType
from typing import Any

from lsprotocol import types
from msgspec import Struct
from pygls.lsp.server import LanguageServer

from losstune import __version__
from losstune.config import LoadedConfig
from losstune.loader import codes
from losstune.loader.resolve import SUPPORTED_SUFFIXES, FileResult, Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Span
from losstune.schema.registry import Schema
from losstune.server.actions import FIX_ALL, UNSAFE, code_actions, fix_all
from losstune.server.completion import completions
from losstune.server.convert import RULE_DOCS, lsp_range, path_of, to_lsp, uri
from losstune.server.definition import definition
from losstune.server.family import Families
from losstune.server.hover import hover_text
from losstune.server.inlay import inherited_hints
from losstune.server.lookup import KeyHit, key_at
from losstune.server.positions import from_point, to_point
from losstune.server.references import references
from losstune.server.workspace import Workspace

DEBOUNCE_S = 0.02
"""How long typing must pause before the document is checked again."""


class Here(Struct, frozen=True):
    """A position of an open config: its path, text, 1-based line and column, and the config
    resolved (by ``resolver``, which keeps what it read)."""

    path: str
    src: SourceText
    line: int
    column: int
    result: FileResult
    tree: LDict
    resolver: Resolver


class LosstuneServer(LanguageServer):
    """``losstune server``: the state of one editor session."""

    def __init__(self) -> None:
        super().__init__("losstune", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.space = Workspace()
        self.docs_url = RULE_DOCS
        self.debounce = DEBOUNCE_S
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self.families = Families(self.roots)

    def roots(self) -> list[str]:
        """The folders of the client's workspace (its workspace folders, else its root)."""
        folders = [path_of(f.uri) for f in self.workspace.folders.values()]
        root = self.workspace.root_path
        found = [f for f in folders if f is not None] or ([os.path.abspath(root)] if root else [])
        return list(dict.fromkeys(found))

    def sync(self, document_uri: str) -> str | None:
        """Take the text pygls holds for an open document into the workspace; its path, if a file."""
        from urllib.parse import unquote

        path = path_of(document_uri)
        document = self.workspace.text_documents.get(unquote(document_uri))
        if path is not None and document is not None:  # one not open is read from disk, if there
            if self.space.documents.get(path) != document.source:
                self.families.changed(path)
            self.space.open(path, document.source)
        return path

    def later(self, path: str) -> None:
        """Check ``path`` and its dependents after the debounce, unless it changes again first."""
        pending = self._pending.pop(path, None)
        if pending is not None:
            pending.cancel()
        loop = asyncio.get_running_loop()
        self._pending[path] = loop.call_later(self.debounce, self.recheck, path)

    def recheck(self, path: str) -> None:
        """Publish the diagnostics of ``path`` (if open) and of every open config that reads it."""
        self._pending.pop(path, None)
        todo = [path] if path in self.space.documents and path.endswith(SUPPORTED_SUFFIXES) else []
        todo += [p for p in self.space.dependents(path) if p != path and p in self.space.documents]
        for config in todo:
            self.publish(config)
        if any(config != path for config in todo) and self._refreshes_hints():
            self.workspace_inlay_hint_refresh(None)  # what the open configs inherit changed

    def _refreshes_hints(self) -> bool:
        """Whether the client shows inlay hints and may be asked to take them again."""
        workspace = self.client_capabilities.workspace
        refresh = workspace.inlay_hint if workspace is not None else None
        return bool(
            refresh is not None and refresh.refresh_support and self.server_capabilities.inlay_hint_provider is not None
        )

    def publish(self, path: str) -> None:
        """Check one open config and publish the findings written in it, and the errors of the
        files it inherits on the ``_base_`` entries that lead to them."""
        try:
            checked = self.space.check(path)
            found = [d for d in checked.diagnostics if d.span is not None and d.span.file == path]
            found += checked.inherited
            diagnostics = [to_lsp(d, self.space.text, self.docs_url) for d in found]
        except Exception as e:  # a bug must not take the editor's server down: it is a finding
            if os.environ.get("LOSSTUNE_DEBUG"):
                raise
            failed = codes.diagnostic(
                codes.CHECK_FAILED,
                f"losstune failed while checking `{path}` ({type(e).__name__}: {e}); this is a bug in losstune",
                Span(path, 1, 1, 1, 1),
            )
            diagnostics = [to_lsp(failed, self.space.text, self.docs_url)]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri(path), diagnostics=diagnostics))

    def _at(self, document_uri: str, position: types.Position) -> tuple[str, SourceText, int, int] | None:
        path = self.sync(document_uri)
        if path is None:
            return None
        src = self.space.text(path)
        line, column = from_point(src, (position.line, position.character))
        return path, src, line, column

    def _resolved_at(self, document_uri: str, position: types.Position) -> Here | None:
        """A position of an open config (as :meth:`_at`) with the config resolved, if it could be."""
        at = self._at(document_uri, position)
        if at is None:
            return None
        resolver = self.space.resolver()
        result = resolver.resolve(at[0])
        return Here(*at, result, result.cfg, resolver) if result.cfg is not None else None

    def key_under(
        self, document_uri: str, position: types.Position
    ) -> tuple[LoadedConfig, FileResult, Schema, KeyHit, Resolver] | None:
        """The loss or sampler key at a position of an open config, with what resolving it gave."""
        at = self._resolved_at(document_uri, position)
        if at is None:
            return None
        cfg = LoadedConfig(at.result)
        hit = key_at(cfg, at.src, at.line, at.column)
        if hit is None:
            return None
        return cfg, at.result, self.space.schema(self.space.settings(at.path)), hit, at.resolver

    def definition(self, document_uri: str, position: types.Position) -> list[types.Location]:
        """Where the value at a position is set (see :mod:`losstune.server.definition`)."""
        at = self._at(document_uri, position)
        if at is None:
            return []
        path, src, line, column = at
        resolver = self.space.resolver()
        found = definition(resolver.resolve(path), resolver, src, line, column)
        if isinstance(found, str):
            return [types.Location(uri(found), types.Range(types.Position(0, 0), types.Position(0, 0)))]
        return [types.Location(uri(s.file), lsp_range(self.space.text, s)) for s in found]

    def references(self, document_uri: str, position: types.Position, declaration: bool) -> list[types.Location]:
        """The keys of the workspace's configs that inherit an open config and write the key at
        a position over it (and that key, with ``declaration``)."""
        at = self._resolved_at(document_uri, position)
        if at is None:
            return []
        spans, notes = references(
            self.families, self.space.documents, at.tree, at.src, at.line, at.column, self.space.text, declaration
        )
        for note in notes:
            self.window_log_message(types.LogMessageParams(types.MessageType.Warning, f"losstune: {note}"))
        return [types.Location(uri(s.file), lsp_range(self.space.text, s)) for s in spans]

    def hints(self, document_uri: str, where: types.Range) -> list[types.InlayHint]:
        """The inherited parameters of the loss and sampler dicts of an open config in ``where``."""
        path = path_of(document_uri)
        if path is None:
            return []
        self.sync(document_uri)
        src = self.space.text(path)
        result = self.space.resolver().resolve(path)
        if result.cfg is None:
            return []
        out = []
        for hint in inherited_hints(LoadedConfig(result), src, where.start.line + 1, where.end.line + 1):
            line, character = to_point(src, hint.line, hint.column)
            place = types.Location(uri(hint.origin.file), lsp_range(self.space.text, hint.origin))
            part = types.InlayHintLabelPart(hint.label, tooltip=hint.origin.file, location=place)
            out.append(
                types.InlayHint(
                    types.Position(line, character), [part], kind=types.InlayHintKind.Parameter, padding_left=True
                )
            )
        return out

    def actions(self, document_uri: str, where: types.Range) -> list[types.CodeAction]:
        """The fixes of the findings of the last check of an open config that ``where`` touches."""
        path = path_of(document_uri)
        checked = self.space.checked.get(path) if path is not None else None
        if path is None or checked is None:
            return []
        touched = []
        for d in checked.diagnostics:
            if d.span is None or d.span.file != path:
                continue
            r = lsp_range(self.space.text, d.span)
            if (r.start.line, r.start.character) <= (where.end.line, where.end.character) and (
                where.start.line,
                where.start.character,
            ) <= (r.end.line, r.end.character):
                touched.append(d)
        settings = self.space.settings(path)
        schema = self.space.schema(settings)
        overlay = {os.path.realpath(p): t for p, t in self.space.documents.items()}
        out = code_actions(touched, schema, settings, overlay, self.space.text, self.docs_url)
        if any(d.edit is not None and d.edit.safety == "safe" for d in checked.diagnostics):
            whole = fix_all(path, schema, settings, overlay, self.space.text)
            if whole is not None:
                out.append(whole)
        return out

    def complete(self, document_uri: str, position: types.Position) -> list[types.CompletionItem]:
        """Parameter names, choices and types inside a loss or sampler dict of an open config."""
        at = self._resolved_at(document_uri, position)
        if at is None:
            return []
        schema = self.space.schema(self.space.settings(at.path))
        out = []
        for item in completions(LoadedConfig(at.result), schema, at.src, at.line, at.column):
            parameter = item.kind == "parameter"
            out.append(
                types.CompletionItem(
                    label=item.label,
                    kind=types.CompletionItemKind.Property if parameter else types.CompletionItemKind.Value,
                    detail=item.detail,
                    documentation=item.documentation or None,
                    insert_text=f"{item.label}=" if parameter and at.path.endswith(".py") else None,
                )
            )
        return out


def _settings(server: LosstuneServer, options: Any) -> None:
    """Take the client's settings (``initializationOptions`` or ``workspace/didChangeConfiguration``):
    ``{"losstune": {"ruleDocs": URL, "debounceMs": N}}`` or the inner object itself."""
    if not isinstance(options, dict):
        return
    inner = options.get("losstune", options)
    if not isinstance(inner, dict):
        return
    if isinstance(inner.get("ruleDocs"), str):
        server.docs_url = inner["ruleDocs"]
    if isinstance(inner.get("debounceMs"), int | float) and inner["debounceMs"] >= 0:
        server.debounce = inner["debounceMs"] / 1000


def build() -> LosstuneServer:
    """A server with every feature registered."""
    server = LosstuneServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: LosstuneServer, params: types.InitializeParams) -> None:
        _settings(ls, params.initialization_options)
        document = params.capabilities.text_document
        if document is not None and document.inlay_hint is not None:
            # Only for a client that shows them: the capabilities are taken after this handler.
            ls.feature(types.TEXT_DOCUMENT_INLAY_HINT)(inlay_hint)

    def inlay_hint(ls: LosstuneServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        return ls.hints(params.text_document.uri, params.range)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LosstuneServer, params: types.InitializedParams) -> None:
        workspace = ls.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace is not None else None
        if watched is not None and watched.dynamic_registration:
            # Bases changed on disk by another program (git checkout, a formatter) re-check too.
            options = types.DidChangeWatchedFilesRegistrationOptions(
                [types.FileSystemWatcher(glob_pattern="**/*.{py,yaml,yml,json,toml}")]
            )
            registration = types.Registration("losstune-files", types.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
            await ls.client_register_capability_async(types.RegistrationParams([registration]))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: LosstuneServer, params: types.DidChangeConfigurationParams) -> None:
        _settings(ls, params.settings)
        ls.space.forget_settings()
        for path in list(ls.space.documents):
            ls.publish(path)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: LosstuneServer, params: types.DidOpenTextDocumentParams) -> None:
        path = ls.sync(params.text_document.uri)
        if path is not None:
            ls.recheck(path)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: LosstuneServer, params: types.DidChangeTextDocumentParams) -> None:
        path = ls.sync(params.text_document.uri)
        if path is not None:
            ls.later(path)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: LosstuneServer, params: types.DidSaveTextDocumentParams) -> None:
        path = ls.sync(params.text_document.uri)
        if path is not None:
            if os.path.basename(path) == "pyproject.toml":
                ls.space.forget_settings()
            ls.recheck(path)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: LosstuneServer, params: types.DidCloseTextDocumentParams) -> None:
        path = path_of(params.text_document.uri)
        if path is not None:
            ls.space.close(path)
            ls.families.changed(path)  # its text is the file's on disk again
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )
            ls.recheck(path)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(ls: LosstuneServer, params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            path = path_of(change.uri)
            if path is None:
                continue
            if change.type == types.FileChangeType.Changed:
                ls.families.changed(path)
            else:  # a config created or deleted may inherit anything
                ls.families.reset()
            if os.path.basename(path) == "pyproject.toml":
                ls.space.forget_settings()
                for config in list(ls.space.documents):
                    ls.later(config)
            else:
                ls.later(path)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: LosstuneServer, params: types.HoverParams) -> types.Hover | None:
        found = ls.key_under(params.text_document.uri, params.position)
        if found is None:
            return None
        cfg, result, schema, hit, resolver = found
        overridden, _ = ls.families.overrides(cfg.path, (*hit.path, hit.key), ls.space.documents)
        text = hover_text(cfg, result, schema, hit, resolver, overridden, ls.space.text)
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def go_to_definition(ls: LosstuneServer, params: types.DefinitionParams) -> list[types.Location]:
        return ls.definition(params.text_document.uri, params.position)

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def references(ls: LosstuneServer, params: types.ReferenceParams) -> list[types.Location]:
        return ls.references(params.text_document.uri, params.position, params.context.include_declaration)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders(ls: LosstuneServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        ls.families.reset()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, UNSAFE, FIX_ALL]),
    )
    def code_action(ls: LosstuneServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return ls.actions(params.text_document.uri, params.range)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["(", ",", "'", '"']))
    def completion(ls: LosstuneServer, params: types.CompletionParams) -> list[types.CompletionItem]:
        return ls.complete(params.text_document.uri, params.position)

    return server


def serve() -> None:
    """Run the server on stdin and stdout until the client ends the session; Ctrl-C ends it with
    :class:`KeyboardInterrupt`, as it ends every other command (pygls's ``start_io`` swallows the
    interrupt and returns as from a session ended by the client)."""
    interrupted = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        build().start_io()
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt

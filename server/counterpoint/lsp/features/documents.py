"""Spec documents: parse on open/change (debounced, off the event loop) and publish diagnostics.

`DiagnosticStore` merges diagnostics from several sources per file (the spec's
own findings, each check's findings, built-in integration checks) and
publishes their union, so one source can replace or clear its part alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import from_fs_path

from counterpoint.lsp.positions import to_lsp_range
from counterpoint.lsp.uris import is_local_spec, is_spec_uri, spec_path

if TYPE_CHECKING:
    from counterpoint_protocol.spec import Spec, SpecDiagnostic

    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.25

SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


class DiagnosticStore:
    """Diagnostics per file and per source; publishing a file sends the union of its sources."""

    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self.by_uri: dict[str, dict[str, list[types.Diagnostic]]] = {}

    def set(self, uri: str, source: str, diagnostics: list[types.Diagnostic]) -> None:
        self.by_uri.setdefault(uri, {})[source] = diagnostics
        self.publish(uri)

    def clear_source(self, source: str, *, keep: Collection[str] = ()) -> None:
        """Drop this source's diagnostics from every file but those in ``keep`` (exactly this
        source: `check:lint` is not `check:lint-strict`) and publish what remains there."""
        for uri, sources in list(self.by_uri.items()):
            if uri not in keep and sources.pop(source, None) is not None:
                self.publish(uri)

    def publish(self, uri: str) -> None:
        merged = [d for diags in self.by_uri.get(uri, {}).values() for d in diags]
        version = None
        document = self.server.workspace.text_documents.get(uri)
        if document is not None:
            version = document.version
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=merged, version=version)
        )


async def file_lines(server: CounterpointServer, path: Path) -> list[str]:
    """The lines of a file: the open document's if the editor has it, else the disk's (read in a thread)."""
    uri = from_fs_path(str(path))
    if uri is not None and uri in server.workspace.text_documents:
        return list(server.workspace.get_text_document(uri).lines)

    def read() -> list[str]:
        try:
            return path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        except OSError:
            return []

    return await asyncio.to_thread(read)


def to_lsp_diagnostics(
    server: CounterpointServer, lines: Sequence[str], diagnostics: Sequence[SpecDiagnostic]
) -> list[types.Diagnostic]:
    codec = server.workspace.position_codec
    return [
        types.Diagnostic(
            range=to_lsp_range(lines, d.range, codec),
            severity=SEVERITY[d.severity],
            message=d.message,
            code=d.code,
            source=d.source,
        )
        for d in diagnostics
    ]


class SpecDocuments:
    """Keeps `server.specs` current for open spec documents."""

    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self._pending: dict[str, asyncio.Task[None]] = {}
        self.on_parsed: list[Callable[[str], None]] = []
        """Called with the uri once a document's new spec and diagnostics are published."""

    def schedule(self, uri: str, delay: float = DEBOUNCE_S) -> None:
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self._pending[uri] = self.server.spawner.spawn(self._validate(uri, delay), name=f"validate {uri}")

    async def _validate(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        document = self.server.workspace.text_documents.get(uri)
        if document is None:
            return
        text, version = document.source, document.version
        from counterpoint.engine.spec import load_spec

        spec = await asyncio.to_thread(load_spec, text, spec_path(uri).resolve())
        current = self.server.workspace.text_documents.get(uri)
        if current is None or current.version != version:
            return  # edited meanwhile: the next validation publishes
        self.server.specs[uri] = spec
        lines = text.splitlines(keepends=True) or [""]
        self.server.part(DiagnosticStore).set(
            uri, "spec", to_lsp_diagnostics(self.server, lines, spec.diagnostics)
        )
        self._pending.pop(uri, None)
        for listener in self.on_parsed:
            listener(uri)

    async def get(self, uri: str) -> Spec | None:
        """The current spec of a document, parsing now if the debounced parse has not run."""
        if not is_local_spec(uri):
            return None
        document = self.server.workspace.text_documents.get(uri)
        if document is None:
            return self.server.specs.get(uri)
        spec = self.server.specs.get(uri)
        if spec is None or spec.text != document.source:
            from counterpoint.engine.spec import load_spec

            spec = await asyncio.to_thread(load_spec, document.source, spec_path(uri).resolve())
            self.server.specs[uri] = spec
        return spec


async def spec_of(ls: CounterpointServer, uri: str) -> Spec | None:
    """The current spec of an open (or else last seen) spec document; None for any other uri."""
    return await ls.part(SpecDocuments).get(uri)


def did_open(ls: CounterpointServer, params: types.DidOpenTextDocumentParams) -> None:
    if is_local_spec(params.text_document.uri):
        ls.part(SpecDocuments).schedule(params.text_document.uri, delay=0)


def did_change(ls: CounterpointServer, params: types.DidChangeTextDocumentParams) -> None:
    if is_local_spec(params.text_document.uri):
        ls.part(SpecDocuments).schedule(params.text_document.uri)


def did_save(ls: CounterpointServer, params: types.DidSaveTextDocumentParams) -> None:
    if is_local_spec(params.text_document.uri):
        ls.part(SpecDocuments).schedule(params.text_document.uri, delay=0)


def did_close(ls: CounterpointServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    if is_spec_uri(uri):
        ls.specs.pop(uri, None)
        ls.part(DiagnosticStore).set(uri, "spec", [])


def register(server: CounterpointServer) -> None:
    server.add_part(DiagnosticStore(server))
    server.add_part(SpecDocuments(server))
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_SAVE)(did_save)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)

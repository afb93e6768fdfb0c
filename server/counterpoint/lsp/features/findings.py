"""Check findings → diagnostics: a check's findings are collected from its events and, when it
finishes, replace that check's diagnostics on every file (built-in findings publish at once).

A finding's metadata is converted once, here (`finding_diagnostic`), into the spec's
`SpecDiagnostic`; `documents.to_lsp_diagnostics` turns that into the client's units.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import EventType
from counterpoint_protocol.spec import Severity, SourceRange, SpecDiagnostic
from pygls.uris import from_fs_path

from counterpoint.lsp.features.documents import DiagnosticStore, file_lines, to_lsp_diagnostics

if TYPE_CHECKING:
    from counterpoint_protocol.events import Event

    from counterpoint.lsp.core import CounterpointServer


def builtin_source(spec_path: str) -> str:
    """The diagnostics source of the built-in integration checks of one spec's runs."""
    return f"check:integration:{spec_path}"


def finding_diagnostic(check: str, finding: dict[str, Any]) -> tuple[str, SpecDiagnostic] | None:
    """(absolute path, diagnostic) of a `finding` event's metadata; None if it names no file."""
    path = finding.get("abs_path")
    if not path:
        return None
    rng = finding.get("range") or {}
    line = int(rng.get("line", 0))
    return str(path), SpecDiagnostic(
        range=SourceRange(
            line=line,
            col=int(rng.get("col", 0)),
            end_line=int(rng.get("end_line", line)),
            end_col=int(rng.get("end_col", 10_000)),
        ),
        severity=Severity(finding.get("severity", "error")),
        message=str(finding.get("message", "")),
        code=str(finding.get("rule") or check),
        source=f"counterpoint/{check}",
    )


class Findings:
    """Collects each running check's findings and publishes them as diagnostics, in event order."""

    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._publish_lock = asyncio.Lock()

    def on_event(self, event: Event, spec_path: str | None) -> None:
        """``spec_path``: the spec of the event's run, if the server knows the run."""
        if event.type in (EventType.RUN_STARTED, EventType.RUN_RESUMED) and event.metadata.get("spec"):
            # Built-in findings have no check run to replace them: a new run of the spec does.
            self.server.part(DiagnosticStore).clear_source(builtin_source(str(event.metadata["spec"])))
            return
        if event.actor is None:
            return
        key = (event.run_id, event.actor)
        if event.type == EventType.CHECK_STARTED:
            self._pending[key] = []
        elif event.type == EventType.FINDING:
            self._pending.setdefault(key, []).append(event.metadata)
            if event.metadata.get("builtin"):
                source = builtin_source(spec_path) if spec_path is not None else f"check:{event.actor}"
                self._publish_soon(event.actor, list(self._pending[key]), source, replace=False)
        elif event.type == EventType.CHECK_FINISHED:
            findings = self._pending.pop(key, [])
            self._publish_soon(event.actor, findings, f"check:{event.actor}", replace=True)

    def _publish_soon(
        self, check: str, findings: list[dict[str, Any]], source: str, *, replace: bool
    ) -> None:
        """Publish off the event handler (files are read in a thread), in the order events came."""
        self.server.spawner.spawn(
            self.publish(check, findings, source, replace=replace), name=f"publish {check}"
        )

    async def publish(
        self, check: str, findings: list[dict[str, Any]], source: str, *, replace: bool
    ) -> None:
        by_file: dict[str, list[SpecDiagnostic]] = {}
        for finding in findings:
            found = finding_diagnostic(check, finding)
            if found is not None:
                by_file.setdefault(found[0], []).append(found[1])
        store = self.server.part(DiagnosticStore)
        async with self._publish_lock:  # FIFO: a check's replace never overtakes an earlier publish
            published: set[str] = set()
            for path, diagnostics in by_file.items():
                uri = from_fs_path(path)
                if uri is None:
                    continue
                lines = await file_lines(self.server, Path(path))
                store.set(uri, source, to_lsp_diagnostics(self.server, lines, diagnostics))
                published.add(uri)
            if replace:  # files the check's last run had findings on and this run has none
                store.clear_source(source, keep=published)

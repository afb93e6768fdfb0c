"""Conflicts of isolated agents as diagnostics.

- ``conflict_predicted``: a warning on each side's lines of the file in the user's working tree
  (the run's ``isolation.toplevel`` / the file's path), naming both agents; replaced when the same
  pair (``key``) is predicted again, removed on ``conflict_cleared`` and when the run finishes.
- ``merge_conflict``: an error on the agent's heading in the spec, naming both sides; removed when
  the ``conflicts`` check no longer holds a finding of it (the integrator resolved it) or when the
  spec runs again. (The conflicting lines themselves are the ``conflicts`` check's findings.)

What a run is (its spec, its repository's top folder) is read from its ``run_started`` or
``run_resumed`` event: nothing here reads the engine's run. Event types are plain strings: the
module is imported before ``initialize``, when the protocol's pydantic models must not be loaded
yet (`test_conflicts` keeps them equal to `EventType`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path

from counterpoint.lsp.features.documents import SEVERITY, DiagnosticStore, file_lines
from counterpoint.lsp.positions import to_lsp_range

if TYPE_CHECKING:
    from collections.abc import Sequence

    from counterpoint_protocol.events import Event
    from counterpoint_protocol.spec import Spec

    from counterpoint.engine.engine import Engine
    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)

RUN_STARTED = "run_started"
RUN_RESUMED = "run_resumed"
RUN_FINISHED = "run_finished"
CONFLICT_PREDICTED = "conflict_predicted"
CONFLICT_CLEARED = "conflict_cleared"
MERGE_CONFLICT = "merge_conflict"
CHECK_FINISHED = "check_finished"
CONFLICTS_CHECK = "conflicts"
"""The pseudo-check whose findings are the real conflicts' lines (its ``keys`` say which are open)."""
SOURCE = "counterpoint/conflicts"
"""The diagnostics' ``source``, as the editor shows it."""
INTEGRATION = "integration"


def predicted_source(run_id: str, key: str) -> str:
    """The store's source of one predicted conflict (a pair of one run)."""
    return f"conflicts:{run_id}:{key}"


def merge_source(run_id: str, agent: str) -> str:
    """The store's source of one agent's merge conflict in one run (on the spec)."""
    return f"conflicts:merge:{run_id}:{agent}"


def who(name: str) -> str:
    return "the merged work (integration)" if name == INTEGRATION else name


@dataclass
class RunConflicts:
    """What this feature knows of one run, from its events."""

    spec: str | None = None
    toplevel: str | None = None
    predicted: set[str] = field(default_factory=set)
    """Keys of the conflicts predicted now."""
    merges: dict[str, str] = field(default_factory=dict)
    """Agent -> the merge conflict's key (``merge:<agent>``), while its diagnostic is shown."""


def predicted_spans(file: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(first line, last line, message) for each span of a predicted conflict's file, 0-based.

    Sides changing the same lines share one diagnostic; a span only one side has says whose version
    it is in. A file whose sides name no lines (a delete, a binary file) gets one on its first line.
    """
    sides = [s for s in file.get("sides") or [] if isinstance(s, dict)]
    names = [str(s.get("agent", "?")) for s in sides]
    kind = str(file.get("kind") or "content")
    what = "" if kind == "content" else f" ({kind})"
    spans: dict[tuple[int, int], list[str]] = {}
    for side, name in zip(sides, names, strict=True):
        for span in side.get("lines") or []:
            start = max(1, int(span.get("start", 1)))
            end = max(start, int(span.get("end", start)))
            spans.setdefault((start - 1, end - 1), []).append(name)
    if not spans:
        both = " and ".join(who(n) for n in names) or "two agents"
        return [(0, 0, f"predicted conflict: {both} both change this file{what}")]
    found = []
    for (line, end), here in spans.items():
        others = [n for n in names if n not in here] or [n for n in names if n != here[0]]
        pair = " and ".join(who(n) for n in [*here, *others][:2]) if len(names) > 1 else who(here[0])
        version = (
            "" if set(here) >= set(names) else f" (lines {line + 1}-{end + 1} of {who(here[0])}'s version)"
        )
        found.append((line, end, f"predicted conflict: {pair} both change these lines{what}{version}"))
    return found


def merge_message(agent: str, metadata: dict[str, Any]) -> str:
    message = str(metadata.get("message") or "")
    if not message:
        others = [str(n) for n in metadata.get("agents") or [] if n != agent] or [INTEGRATION]
        paths = ", ".join(str(f.get("path")) for f in metadata.get("files") or [] if isinstance(f, dict))
        message = f"{agent}'s work conflicts with {' and '.join(others)}'s" + (
            f" in {paths}" if paths else ""
        )
    return f"merge conflict: {message}"


def diagnostic(
    server: CounterpointServer,
    lines: Sequence[str],
    line: int,
    end: int,
    severity: str,
    message: str,
    code: str,
) -> types.Diagnostic:
    from counterpoint_protocol.spec import SourceRange

    source = SourceRange(line=line, col=0, end_line=end, end_col=10_000)
    return types.Diagnostic(
        range=to_lsp_range(lines, source, server.workspace.position_codec),
        severity=SEVERITY[severity],
        message=message,
        code=code,
        source=SOURCE,
    )


class Conflicts:
    """Follows every engine's events; publishes and clears the conflicts' diagnostics in order."""

    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self.runs: dict[str, RunConflicts] = {}
        self._lock = asyncio.Lock()
        """Held by each update in turn: updates run in the order of their events (FIFO)."""

    def attach_engine(self, engine: Engine) -> None:
        engine.log.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("conflicts: handling event %s failed", event.id)

    def _on_event(self, event: Event) -> None:
        kind, meta = event.type, event.metadata
        if kind in (RUN_STARTED, RUN_RESUMED):
            isolation = meta.get("isolation") or {}
            started = self.runs.setdefault(event.run_id, RunConflicts())
            started.spec = str(meta["spec"]) if meta.get("spec") else started.spec
            if isolation.get("toplevel"):
                started.toplevel = str(isolation["toplevel"])
            if kind == RUN_STARTED and started.spec is not None:
                self._soon(self._new_run_of(event.run_id, started.spec))
            return
        run = self.runs.get(event.run_id)
        if run is None:
            return
        if kind == CONFLICT_PREDICTED and meta.get("key"):
            run.predicted.add(str(meta["key"]))
            self._soon(self._predicted(event.run_id, run, dict(meta)))
        elif kind == CONFLICT_CLEARED and meta.get("key"):
            run.predicted.discard(str(meta["key"]))
            self._soon(self._clear(predicted_source(event.run_id, str(meta["key"]))))
        elif kind == MERGE_CONFLICT and event.actor:
            run.merges[event.actor] = str(meta.get("key") or f"merge:{event.actor}")
            self._soon(self._merge(event.run_id, run, event.actor, dict(meta)))
        elif kind == CHECK_FINISHED and event.actor == CONFLICTS_CHECK:
            open_keys = [str(k) for k in meta.get("keys") or []]
            for agent, key in list(run.merges.items()):
                if not any(k == key or k.startswith(f"{key}:") for k in open_keys):
                    del run.merges[agent]
                    self._soon(self._clear(merge_source(event.run_id, agent)))
        elif kind == RUN_FINISHED:
            keys, run.predicted = run.predicted, set()
            for key in keys:
                self._soon(self._clear(predicted_source(event.run_id, key)))
            if not run.merges:
                del self.runs[event.run_id]

    def _soon(self, update: Any) -> None:
        self.server.spawner.spawn(self._in_turn(update), name="conflict diagnostics")

    async def _in_turn(self, update: Any) -> None:
        async with self._lock:
            try:
                await update
            except Exception:
                log.exception("conflicts: updating diagnostics failed")

    # -- updates (each under the lock, in event order) ----------------------------------------------

    async def _clear(self, source: str) -> None:
        self.server.part(DiagnosticStore).clear_source(source)

    async def _new_run_of(self, run_id: str, spec: str) -> None:
        """A new run of a spec: the merge conflicts of its earlier runs are history."""
        for other_id, other in list(self.runs.items()):
            if other_id == run_id or other.spec != spec:
                continue
            for agent in other.merges:
                self.server.part(DiagnosticStore).clear_source(merge_source(other_id, agent))
            other.merges.clear()
            if not other.predicted:
                del self.runs[other_id]

    async def _predicted(self, run_id: str, run: RunConflicts, meta: dict[str, Any]) -> None:
        key = str(meta["key"])
        source = predicted_source(run_id, key)
        store = self.server.part(DiagnosticStore)
        if key not in run.predicted or run.toplevel is None:
            return  # cleared meanwhile, or not an isolated run
        published: set[str] = set()
        for file in meta.get("files") or []:
            if not isinstance(file, dict) or not file.get("path"):
                continue
            path = Path(run.toplevel) / str(file["path"])
            uri = from_fs_path(str(path))
            if uri is None:
                continue
            lines = await file_lines(self.server, path)
            if key not in run.predicted:
                return  # cleared while the file was read: the clear queued after this removes it
            diagnostics = [
                diagnostic(self.server, lines, line, end, "warning", message, "conflict-predicted")
                for line, end, message in predicted_spans(file)
            ]
            store.set(uri, source, diagnostics)
            published.add(uri)
        store.clear_source(source, keep=published)  # files the earlier prediction had, this one not

    async def _merge(self, run_id: str, run: RunConflicts, agent: str, meta: dict[str, Any]) -> None:
        if run.spec is None or run.merges.get(agent) is None:
            return
        path = Path(run.spec)
        uri = from_fs_path(str(path))
        if uri is None:
            return
        spec, lines = await self._spec_of(uri, path)
        heading = spec.agent(agent) if spec is not None else None
        if heading is not None:
            line, end = heading.heading_range.line, heading.heading_range.end_line
        else:
            title = spec.title_range if spec is not None else None
            line = end = title.line if title is not None else 0
        message = merge_message(agent, meta)
        self.server.part(DiagnosticStore).set(
            uri,
            merge_source(run_id, agent),
            [diagnostic(self.server, lines, line, end, "error", message, "merge-conflict")],
        )

    async def _spec_of(self, uri: str, path: Path) -> tuple[Spec | None, list[str]]:
        """The spec as the editor has it (open), else as on disk, and its lines."""
        from counterpoint.lsp.features.documents import spec_of

        document = self.server.workspace.text_documents.get(uri)
        if document is not None:
            return await spec_of(self.server, uri), list(document.lines)
        from counterpoint.engine.spec import load_spec

        lines = await file_lines(self.server, path)
        if not lines:
            return None, []
        return await asyncio.to_thread(load_spec, "".join(lines), path), lines


def register(server: CounterpointServer) -> None:
    conflicts = Conflicts(server)
    server.add_part(conflicts)
    server.engine_hooks.append(conflicts.attach_engine)

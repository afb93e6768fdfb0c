"""`RunFiles`: a run's files: its workspace tools, who wrote what, and the watcher's signals.

A file signal fired by the watcher carries who it comes from (``by``, ``attribution``), found
from the writes made through the workspace tools or the agents declaring the signal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import EventType

from counterpoint.engine.run.observer import Observers
from counterpoint.engine.run.state import AgentRuntime
from counterpoint.engine.workspace import ToolCall, WorkspaceTools, WriteRecord

if TYPE_CHECKING:
    from counterpoint.engine.run.view import Emit

log = logging.getLogger(__name__)
Fire = Callable[[str, dict[str, Any], str | None], bool]
"""(signal, metadata, actor) -> whether it fired now."""


class RunFiles:
    """The workspace tools of one run, its write records, and its file signal source."""

    def __init__(
        self,
        *,
        root: Path,
        spec_dir: Path,
        signals: Mapping[str, list[str]],
        agents: Mapping[str, AgentRuntime],
        emit: Emit,
        fire: Fire,
        observers: Observers,
    ) -> None:
        self.root = root
        self.spec_dir = spec_dir
        self._signals = signals
        self._emitters: dict[str, list[AgentRuntime]] = {}
        """Signal -> the agents that declare they emit it."""
        for agent in agents.values():
            for signal in agent.spec.settings.emits:
                self._emitters.setdefault(signal, []).append(agent)
        self._emit = emit
        self._fire = fire
        self._observers = observers
        self.writes: dict[str, str] = {}
        """Path -> the agent that wrote it last through the tools (one entry a path, not a write)."""
        self.tools = WorkspaceTools(root, spec_dir, recorder=self._record_tool, on_write=self._on_write)
        self.source: Any = None
        """The `FileSignalSource` while the run watches files, else None."""

    def tools_at(self, root: Path, spec_dir: Path) -> WorkspaceTools:
        """Workspace tools rooted elsewhere (an isolated agent's working copy), recorded alike."""
        return WorkspaceTools(root, spec_dir, recorder=self._record_tool, on_write=self._on_write)

    async def _record_tool(self, call: ToolCall) -> None:
        meta: dict[str, Any] = {"args": call.args}
        if call.result is not None:
            meta["result"] = call.result
        if call.error is not None:
            meta["error"] = call.error
        self._emit(EventType.TOOL_CALL, call.actor, call.tool, **meta)

    async def _on_write(self, record: WriteRecord) -> None:
        """A write through the workspace tools: recorded, the observers told, its event."""
        self.writes[record.path] = sys.intern(record.actor)
        self._observers.write(record.actor, record.path)
        self._emit(
            EventType.FILE_WRITTEN,
            record.actor,
            record.path,
            bytes=record.size,
            sha256=record.sha256,
            created=record.created,
        )

    async def start_watching(self, extra_ignores: list[str]) -> None:
        from counterpoint.engine.watch import FileSignalSource

        def fire_file(name: str, metadata: dict[str, Any]) -> None:
            self._fire(name, {**metadata, **self.signal_source(name, metadata)}, None)

        self.source = FileSignalSource(
            self.root, self.spec_dir, dict(self._signals), fire_file, extra_ignores=extra_ignores
        )
        self.source.add_listener(self._observers.files_changed)
        # Only the stamp is awaited: agents needing nothing start while the watches are set up.
        await self.source.begin()

    async def stop_watching(self) -> None:
        if self.source is None:
            return
        try:
            await self.source.stop()
        except Exception:
            log.exception("stopping the watcher failed")

    def signal_source(self, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
        """Which agent a file signal comes from: the last agent that wrote its file through the
        workspace tools (``attribution: write``), else the one agent that declares it emits the
        signal if it has started (``emits``), else nobody (``unknown``). Goes in its metadata as
        ``by``, so the report's critical path can follow agent -> file -> agent."""
        rel = metadata.get("path")
        if isinstance(rel, str):
            # Write records are relative to the spec's folder when under it, else to the root.
            target = self.root / rel
            try:
                key = target.relative_to(self.spec_dir).as_posix()
            except ValueError:
                key = rel
            writer = self.writes.get(key)
            if writer is not None:
                return {"by": writer, "attribution": "write"}
        declared = self._emitters.get(name, [])
        if len(declared) == 1 and declared[0].started_at is not None:
            return {"by": declared[0].name, "attribution": "emits"}
        return {"attribution": "unknown"}

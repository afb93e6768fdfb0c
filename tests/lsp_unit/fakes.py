"""A stand-in for `CounterpointServer` that records what the features send to the editor, and
stand-ins for a run's agents: the LSP's own pieces run in process, without a client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from counterpoint.engine.process import TaskSpawner
from counterpoint.engine.run import waiting_names
from counterpoint_protocol.events import AgentStatus, Event, EventType
from counterpoint_protocol.messages import AgentStatusInfo, RunStatusInfo
from lsprotocol import types
from pygls.workspace import Workspace

P = TypeVar("P")


class FakeProgress:
    """`server.work_done_progress`: records create/begin/report/end; can be told to fail."""

    def __init__(self, sent: list[tuple[str, ...]]) -> None:
        self.sent = sent
        self.tokens: dict[str, Any] = {}
        self.refuse_create: set[str] = set()
        self.fail_end: set[str] = set()
        self.fail_report: set[str] = set()

    async def create_async(self, token: str) -> None:
        if token in self.refuse_create:
            raise RuntimeError("client refused the token")
        self.tokens[token] = object()
        self.sent.append(("create", token))

    def begin(self, token: str, value: types.WorkDoneProgressBegin) -> None:
        self.sent.append(("begin", token, value.title, value.message or ""))

    def report(self, token: str, value: types.WorkDoneProgressReport) -> None:
        if token in self.fail_report:
            raise RuntimeError("transport closed")
        self.sent.append(("report", token, value.message or ""))

    def end(self, token: str, value: types.WorkDoneProgressEnd) -> None:
        if token in self.fail_end:
            raise RuntimeError("transport closed")
        self.sent.append(("end", token, value.message or ""))


class FakeServer:
    """What the features use of the server; every message to the client lands in `sent`."""

    def __init__(self, *, work_done_progress: bool = True, runs: dict[str, Any] | None = None) -> None:
        self.sent: list[tuple[str, ...]] = []
        self.notifications: list[tuple[str, Any]] = []
        self.published: list[types.PublishDiagnosticsParams] = []
        self.supports_work_done_progress = work_done_progress
        self.work_done_progress = FakeProgress(self.sent)
        self.spawner = TaskSpawner("test")
        self.workspace = Workspace(None)
        self.client_capabilities = types.ClientCapabilities()
        self.protocol = SimpleNamespace(
            notify=lambda method, params: self.notifications.append((method, params))
        )
        self.runs = runs or {}
        self._parts: dict[type[Any], Any] = {}

    def add_part(self, part: object) -> None:
        self._parts[type(part)] = part

    def part(self, cls: type[P]) -> P:
        found: P = self._parts[cls]
        return found

    def find_run(self, run_id: str) -> tuple[Any, Any] | None:
        return (None, self.runs[run_id]) if run_id in self.runs else None

    def window_log_message(self, params: types.LogMessageParams) -> None:
        self.sent.append(("log", params.message))

    def window_show_message(self, params: types.ShowMessageParams) -> None:
        self.sent.append(("show", params.type.name, params.message))

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.append(params)

    def workspace_code_lens_refresh(self, params: None) -> None:
        self.sent.append(("refresh", "codeLens"))

    def workspace_inlay_hint_refresh(self, params: None) -> None:
        self.sent.append(("refresh", "inlayHint"))

    async def settle(self) -> None:
        """Wait for every task the features spawned (and those they spawn in turn), but the
        progress flusher, which runs as long as a token is open."""
        while tasks := [t for t in self.spawner.tasks if not t.done() and t.get_name() != "progress flush"]:
            await asyncio.gather(*tasks, return_exceptions=True)

    def of_kind(self, kind: str) -> list[tuple[str, ...]]:
        return [m for m in self.sent if m[0] == kind]


@dataclass
class FakeAgent:
    name: str
    state: AgentStatus = AgentStatus.PENDING
    waiting_on: set[str] = field(default_factory=set)
    duration: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state.terminal


@dataclass
class FakeRun:
    run_id: str
    agents: dict[str, FakeAgent]
    spec: Any = field(
        default_factory=lambda: SimpleNamespace(feature="Demo", path=Path("/ws/demo.agents.md"))
    )
    cancelled_agents: list[str] = field(default_factory=list)
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True

    def agent_status(self, name: str) -> AgentStatusInfo | None:
        """Like `Run.agent_status`: the typed snapshot of one agent."""
        agent = self.agents.get(name)
        if agent is None:
            return None
        return AgentStatusInfo(
            name=agent.name,
            state=agent.state.value,
            waiting_on=waiting_names(agent.waiting_on),
            duration_s=agent.duration,
        )

    def status(self) -> RunStatusInfo:
        """Like `Run.status()`: the typed snapshot the faces read."""
        agents = [self.agent_status(name) for name in self.agents]
        return RunStatusInfo(
            runId=self.run_id,
            spec=str(self.spec.path),
            state="cancelled" if self.cancelled else "running",
            agents=[a for a in agents if a is not None],
        )

    def cancel_agent(self, name: str) -> bool:
        self.cancelled_agents.append(name)
        return True


def event(
    n: int, run_id: str, type: EventType, actor: str | None = None, action: str | None = None, **metadata: Any
) -> Event:
    return Event(
        id=n,
        run_id=run_id,
        type=type,
        actor=actor,
        action=action,
        metadata=metadata,
        timestamp="2026-01-01T00:00:00.000Z",
    )

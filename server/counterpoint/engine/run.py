"""One run of a spec: event-driven scheduling of its agents.

Each agent starts the moment what it needs is ready (signals fired by file
events or agents, agents finished), up to ``max_parallel`` at once; never in
waves. Every state change of an agent is one event in the log; the in-memory
state here is what the scheduler decides on, the log is what everyone else
(CLI, editors, reports, resume) reads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from counterpoint_protocol.events import STATE_EVENT, AgentStatus, EventType, utc_timestamp
from counterpoint_protocol.messages import AgentStatusInfo, RunStatusInfo
from counterpoint_protocol.spec import Spec

from counterpoint.engine.agent_state import AgentRuntime, waiting_names
from counterpoint.engine.consent import ConsentPolicy
from counterpoint.engine.context import SharedContext, load_shared_context
from counterpoint.engine.eventlog import EventLog
from counterpoint.engine.output_batch import OutputBatcher
from counterpoint.engine.redact import is_secret_key
from counterpoint.engine.run_budget import RunBudget
from counterpoint.engine.run_options import (
    GateAnswer,
    GateHandler,
    RunOptions,
    new_run_id,
    select_agents,
)
from counterpoint.engine.runners.base import AgentContext
from counterpoint.engine.scheduling import Scheduling
from counterpoint.engine.spawner import TaskSpawner
from counterpoint.engine.workspace import ToolCall, WorkspaceTools, WriteRecord

if TYPE_CHECKING:
    from counterpoint.engine.checks.runner import CheckManager
    from counterpoint.engine.watcher import FileChange

__all__ = ["GateAnswer", "GateHandler", "Run", "RunOptions", "new_run_id", "select_agents"]
log = logging.getLogger(__name__)
S = AgentStatus


class Run(Scheduling):
    """A live run. Create with `Run(...)`, then `await run.execute()` (or through `Engine`)."""

    def __init__(
        self,
        spec: Spec,
        event_log: EventLog,
        workspace_root: Path,
        options: RunOptions | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        self.spec = spec
        self.log = event_log
        self.root = workspace_root
        self.spec_dir = Path(spec.path).parent
        self.options = options or RunOptions()
        self.run_id = run_id or new_run_id()
        self.spawner = TaskSpawner(f"run {self.run_id}")
        if self.options.exact and self.options.agents is not None:
            selected = [a for a in spec.agents if a.name in self.options.agents]
        else:
            selected = select_agents(spec, self.options.agents)
        selected_names = {a.name for a in selected}
        self.agents: dict[str, AgentRuntime] = {}
        for agent in selected:
            needs = {n for n in agent.settings.needs if n != agent.name}
            # Needs on agents outside the selection are dropped only if the agent is not in the spec.
            self.agents[agent.name] = AgentRuntime(agent, frozenset(needs))
            for key, value in agent.settings.env.items():  # `env: {DEPLOY_TOKEN: ...}` in the spec
                if is_secret_key(key) and isinstance(value, str):
                    self.log.redactor.add(value)
        self.integrators = [a for a in self.agents.values() if a.spec.settings.integrate]
        self._emitters: dict[str, list[AgentRuntime]] = {}
        """Signal -> the agents that declare they emit it (so a need is checked in O(emitters))."""
        for runtime in self.agents.values():
            for signal in runtime.spec.settings.emits:
                self._emitters.setdefault(signal, []).append(runtime)
        self.max_parallel = self.options.max_parallel or spec.max_parallel or max(1, len(self.agents))
        self.signals: dict[str, dict[str, Any]] = {}
        self.signal_times: dict[str, str] = {}
        self.signal_actor: dict[str, str | None] = {}
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._queue: deque[str] = deque()
        self._running = 0
        self._done = asyncio.Event()
        self.state: Literal["starting", "running", "finished", "cancelled"] = "starting"
        self.cancelled = False
        self.started_mono = 0.0
        self.started_wall = ""
        self.finished_mono: float | None = None
        self.shared_context = SharedContext()
        self.consent = ConsentPolicy(
            workspace_root, trust=self.options.trust, asker=self.options.consent_asker
        )
        self.writes: dict[str, list[WriteRecord]] = {}
        self.tools = WorkspaceTools(
            self.root, self.spec_dir, recorder=self._record_tool, on_write=self._on_write
        )
        self.selected_names = selected_names
        self.file_source: Any = None
        self.listeners: list[Callable[[str, Any], None]] = []
        """Engine-internal hooks (checks): called with ("signal", name) / ("agent_finished", name)."""
        self.result_status: str = "running"
        self.budget: RunBudget = self.options.extra.get("budget") or RunBudget(spec.budget_usd)
        """The run's shared LLM spend (``budget_usd``)."""
        self.output = OutputBatcher(event_log, self.run_id)
        self._settling = False
        self._stall_settled = False
        self.checks: CheckManager | None = None
        self.change_listeners: list[Callable[[list[FileChange]], None]] = []
        """Hooks called with raw file changes seen by the watcher (checks' watch globs, attribution)."""

    # -- events ---------------------------------------------------------------------------------

    def _emit(self, type: str, actor: str | None = None, action: str | None = None, **metadata: Any) -> None:
        """Append an event without waiting (the log keeps order; `flush` waits for commit)."""
        try:
            if actor is not None:
                self.output.flush(actor)
            self.log.emit(self.run_id, type, actor, action, metadata)
        except RuntimeError:
            log.warning("event after log closed: %s %s %s", type, actor, action)

    def emit_event(
        self, type: str, actor: str | None = None, action: str | None = None, **metadata: Any
    ) -> None:
        """Append an event of this run (for engine parts such as checks)."""
        self._emit(type, actor, action, **metadata)

    def _set_state(self, agent: AgentRuntime, new: AgentStatus, **metadata: Any) -> None:
        agent.transition(new)
        if new == S.RUNNING:
            agent.started_wall = utc_timestamp()
        elif new.terminal:
            agent.finished_wall = utc_timestamp()
            if agent.duration is not None:
                metadata.setdefault("duration_s", round(agent.duration, 4))
            if agent.error:
                metadata.setdefault("error", agent.error)
        if new == S.WAITING:
            metadata.setdefault("waiting_on", waiting_names(agent.waiting_on))
        self._emit(STATE_EVENT[new], agent.name, new.value, **metadata)

    async def _record_tool(self, call: ToolCall) -> None:
        meta: dict[str, Any] = {"args": call.args}
        if call.result is not None:
            meta["result"] = call.result
        if call.error is not None:
            meta["error"] = call.error
        self._emit(EventType.TOOL_CALL, call.actor, call.tool, **meta)

    async def _on_write(self, record: WriteRecord) -> None:
        self.writes.setdefault(record.path, []).append(record)
        if self.checks is not None:
            self.checks.builtin.tool_write(record.actor, record.path)
        self._emit(
            EventType.FILE_WRITTEN,
            record.actor,
            record.path,
            bytes=record.size,
            sha256=record.sha256,
            created=record.created,
        )

    # -- signals ----------------------------------------------------------------------------------

    def fire(self, name: str, metadata: dict[str, Any] | None = None, actor: str | None = None) -> bool:
        """Fire a signal; returns False if it had fired already (a signal fires once per run)."""
        metadata = dict(metadata or {})
        if actor is not None and actor in self.agents:
            self.agents[actor].fired.add(name)
        if name in self.signals:
            return False
        self.signals[name] = metadata
        self.signal_times[name] = utc_timestamp()
        self.signal_actor[name] = actor
        self._emit(EventType.SIGNAL, actor, name, **metadata)
        for future in self._waiters.pop(name, []):
            if not future.done():
                future.set_result(metadata)
        self._need_met(name)
        for listener in list(self.listeners):
            listener("signal", name)
        return True

    def _need_met(self, need: str) -> None:
        for agent in self.agents.values():
            if agent.state == S.WAITING and need in agent.waiting_on:
                agent.waiting_on.discard(need)
                if not agent.waiting_on:
                    agent.released_by = need
                    self._ready(agent)

    async def wait_for_signal(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        if name in self.signals:
            return self.signals[name]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append(future)
        return await asyncio.wait_for(future, timeout)

    def can_still_fire(self, need: str) -> bool:
        return self._can_still_fire(need)

    def why_dead(self, need: str) -> str:
        return self._why_dead(need)

    def _can_still_fire(self, need: str) -> bool:
        if need in self.signals:
            return True
        if need in self.agents:
            return not self.agents[need].terminal
        if need in self.spec.signals:
            return True  # a file may still appear; the stall check handles the end of the line
        return any(not a.terminal for a in self._emitters.get(need, ()))

    # -- scheduling -----------------------------------------------------------------------------

    def agent_context(self, agent: AgentRuntime) -> AgentContext:
        return self._context(agent)

    def _context(self, agent: AgentRuntime) -> AgentContext:
        cwd = self.spec_dir / agent.spec.settings.cwd if agent.spec.settings.cwd else self.spec_dir

        async def emit_signal(name: str, metadata: dict[str, Any]) -> None:
            self.fire(name, metadata, actor=agent.name)

        def output(line: str) -> None:
            agent.last_output = self.log.redactor.text(line)  # shown in status and inlay hints
            self.output.add(agent.name, line)

        async def record(type: str, action: str | None, metadata: dict[str, Any]) -> None:
            self._emit(type, agent.name, action, **metadata)

        def began() -> None:
            if agent.mark_active():
                self._emit(EventType.AGENT_ACTIVE, agent.name, None, attempt=agent.attempts)

        return AgentContext(
            run_id=self.run_id,
            agent=agent.spec,
            spec=self.spec,
            spec_dir=self.spec_dir,
            workspace_root=self.root,
            tools=self.tools,
            shared_context=self.shared_context,
            task=self.task_for(agent),
            cwd=cwd,
            consent=self.consent,
            emit_signal=emit_signal,
            wait_for_signal=self.wait_for_signal,
            output=output,
            record=record,
            began=began,
            speed=self.options.speed,
            attempt=agent.attempts,
            env=dict(agent.spec.settings.env),
            options={
                "record": self.options.record,
                **self.options.extra,
                "budget": self.budget,
                "resumed": self.options.resumed,
            },
        )

    def task_for(self, agent: AgentRuntime) -> str:
        """The agent's task; hooks (the integrator's findings) extend it."""
        return agent.spec.task

    def cancel(self) -> None:
        """Cancel the whole run: running agents are cancelled, the rest never start."""
        if self.cancelled or self.state == "finished":
            return
        self.cancelled = True
        for agent in self.agents.values():
            if agent.state in (S.PENDING, S.WAITING, S.QUEUED, S.GATED):
                agent.error = "run cancelled"
                self._set_state(agent, S.CANCELLED)
            elif agent.state == S.RUNNING and agent.task is not None:
                agent.task.cancel()
        self._queue.clear()
        if self.checks is not None:
            self.checks.cancel()
        if all(a.terminal for a in self.agents.values()):
            self._done.set()

    def cancel_agent(self, name: str) -> bool:
        agent = self.agents.get(name)
        if agent is None or agent.terminal:
            return False
        if agent.state == S.RUNNING and agent.task is not None:
            agent.task.cancel()
        else:
            if agent.name in self._queue:
                self._queue.remove(agent.name)
            agent.error = "cancelled"
            self._set_state(agent, S.CANCELLED)
            self._after_terminal(agent)
        return True

    # -- running ----------------------------------------------------------------------------------

    async def execute(self) -> str:
        """Run to the end; returns the run's status (succeeded, failed or cancelled)."""
        await self.consent.snapshot()  # consent is what it is now: nothing an agent writes counts
        self.started_mono = time.monotonic()
        self.started_wall = utc_timestamp()
        self._emit(
            EventType.RUN_RESUMED if self.options.resumed else EventType.RUN_STARTED,
            None,
            self.options.resumed or self.spec.feature,
            spec=str(self.spec.path),
            agents=list(self.agents),
            max_parallel=self.max_parallel,
            selection=self.options.agents,
            pid=os.getpid(),
            integrators=[a.name for a in self.integrators],
            checks=[c.settings.name for c in self.spec.checks],
            restored_signals=sorted(self.options.restored_signals),
            completed_agents=sorted(self.options.completed_agents),
        )
        await self.log.record_run(self.run_id, str(self.spec.path), os.getpid())
        try:
            self.shared_context = await load_shared_context(self.spec_dir, self.spec.context, root=self.root)
            self._emit(
                EventType.CONTEXT_LOADED,
                None,
                None,
                **self.shared_context.metrics(len(self.agents)),
            )
            await self._start_watching()
            self.state = "running"
            self._start_scheduling()
            for listener in list(self.listeners):
                listener("started", "")
            if not self.agents:
                self._done.set()
            await self._done.wait()
            if self.checks is not None and not self.cancelled:
                await self.checks.wait_idle()
        except asyncio.CancelledError:
            self.cancel()
            await self._wait_agents()
            raise
        finally:
            await self._finish()
        return self.result_status

    async def _wait_agents(self) -> None:
        tasks = [a.task for a in self.agents.values() if a.task is not None and not a.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def _start_watching(self) -> None:
        if not self.options.watch:
            return
        from counterpoint.engine.file_signals import FileSignalSource

        def fire_file(name: str, metadata: dict[str, Any]) -> None:
            self.fire(name, {**metadata, **self._file_signal_source(name, metadata)}, actor=None)

        self.file_source = FileSignalSource(
            self.root,
            self.spec_dir,
            self.spec.signals,
            fire_file,
            extra_ignores=self.options.watcher_ignores,
        )
        self.file_source.add_listener(self._on_changes)
        # Only the stamp is awaited: agents needing nothing start while the watches are set up.
        await self.file_source.begin()

    def _file_signal_source(self, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
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
            records = self.writes.get(key)
            if records:
                return {"by": records[-1].actor, "attribution": "write"}
        declared = self._emitters.get(name, [])
        if len(declared) == 1 and declared[0].started_at is not None:
            return {"by": declared[0].name, "attribution": "emits"}
        return {"attribution": "unknown"}

    def _on_changes(self, changes: list[FileChange]) -> None:
        for listener in list(self.change_listeners):
            try:
                listener(changes)
            except Exception:
                log.exception("file change listener failed")

    async def _finish(self) -> None:
        await self._wait_agents()
        if self.file_source is not None:
            try:
                await self.file_source.stop()
            except Exception:
                log.exception("stopping the watcher failed")
        await self.spawner.aclose()
        self.finished_mono = time.monotonic()
        statuses = {a.name: a.state.value for a in self.agents.values()}
        if self.cancelled:
            self.result_status = "cancelled"
        elif all(a.state == S.SUCCEEDED for a in self.agents.values()) and not (
            self.checks is not None and self.checks.open_errors()
        ):
            self.result_status = "succeeded"
        else:
            self.result_status = "failed"
        self.state = "cancelled" if self.cancelled else "finished"
        self._emit(
            EventType.RUN_FINISHED,
            None,
            self.result_status,
            wall_s=round(self.finished_mono - self.started_mono, 4),
            agents=statuses,
            open_findings=len(self.checks.open_findings()) if self.checks is not None else 0,
        )
        await self.log.flush()
        await self.log.finish_run(self.run_id, self.result_status)

    # -- views ------------------------------------------------------------------------------------

    def status(self) -> RunStatusInfo:
        return RunStatusInfo(
            runId=self.run_id,
            spec=str(self.spec.path),
            state=self.result_status if self.state in ("finished", "cancelled") else self.state,
            agents=[
                AgentStatusInfo(
                    name=a.name,
                    state=a.state.value,
                    waiting_on=waiting_names(a.waiting_on),
                    started_at=a.started_wall,
                    finished_at=a.finished_wall,
                    duration_s=round(a.duration, 3) if a.duration is not None else None,
                    last_output=a.last_output or None,
                )
                for a in self.agents.values()
            ],
            signals=dict(self.signal_times),
        )

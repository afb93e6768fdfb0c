"""One run of a spec: its state, its signals and its events.

Each agent starts the moment what it needs is ready (signals fired by file events or agents,
agents finished), up to ``max_parallel`` at once; never in waves. The run composes the parts
that decide this: a `Scheduler` (readiness, queue, gates, blocking) and one `AgentWorker` per
agent (its life and transitions, one event each). Every state change is one event in the log;
the in-memory state here is what the scheduler decides on, the log is what everyone else (CLI,
editors, reports, resume) reads, with `status()` as the typed snapshot of the moment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import AgentStatus, EventType, utc_timestamp
from counterpoint_protocol.messages import AgentStatusInfo, RunStatusInfo
from counterpoint_protocol.spec import Spec

from counterpoint.engine.log import EventLog
from counterpoint.engine.process import TaskSpawner
from counterpoint.engine.run.budget import RunBudget
from counterpoint.engine.run.context import agent_context
from counterpoint.engine.run.files import RunFiles
from counterpoint.engine.run.lock import SpecLock
from counterpoint.engine.run.observer import Observers, RunChecks, RunObserver
from counterpoint.engine.run.options import (
    RunOptions,
    new_run_id,
    select_agents,
    started_metadata,
    user_extras,
)
from counterpoint.engine.run.output_batch import OutputBatcher
from counterpoint.engine.run.scheduler import Scheduler
from counterpoint.engine.run.state import AgentRuntime, RunState, agent_status
from counterpoint.engine.run.view import RunView
from counterpoint.engine.run.worker import AgentWorker
from counterpoint.engine.runners.base import AgentContext
from counterpoint.engine.workspace import (
    STATE_DIR,
    ConsentPolicy,
    SharedContext,
    is_secret_key,
    load_shared_context,
)

if TYPE_CHECKING:
    from counterpoint.engine.run.isolation import RunIsolation

log = logging.getLogger(__name__)
S = AgentStatus


class Run:
    """A live run. Create with `Run(...)` (or `Engine.start_run`), then `await run.execute()`."""

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
        self.state = RunState.STARTING
        self.spawner = TaskSpawner(f"run {self.run_id}")
        self.observers = Observers()
        self.checks: RunChecks | None = None
        self.spec_lock: SpecLock | None = None
        """The lock that makes this the spec's one live run (the engine hands it over); let go
        just before `run_finished`, so whoever sees the end can start the spec again at once."""
        self.signals: dict[str, dict[str, Any]] = {}
        self.signal_times: dict[str, str] = {}
        self.signal_actor: dict[str, str | None] = {}
        self._signal_futures: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        if self.options.exact and self.options.agents is not None:
            selected = [a for a in spec.agents if a.name in self.options.agents]
        else:
            selected = select_agents(spec, self.options.agents)
        self.agents: dict[str, AgentRuntime] = {}
        """Engine-internal live state of each agent (faces read `status()` and the log instead)."""
        self.workers: dict[str, AgentWorker] = {}
        for agent in selected:
            # Needs on agents outside the selection are dropped only if the agent is not in the spec.
            runtime = AgentRuntime(agent, frozenset(n for n in agent.settings.needs if n != agent.name))
            self.agents[agent.name] = runtime
            self.workers[agent.name] = self._worker(runtime)
            for key, value in agent.settings.env.items():  # `env: {DEPLOY_TOKEN: ...}` in the spec
                if is_secret_key(key) and isinstance(value, str):
                    self.log.redactor.add(value)
        self.max_parallel = self.options.max_parallel or spec.max_parallel or max(1, len(self.agents))
        self.consent = ConsentPolicy(
            workspace_root, trust=self.options.trust, asker=self.options.consent_asker
        )
        self.files = RunFiles(
            root=workspace_root,
            spec_dir=self.spec_dir,
            signals=spec.signals,
            agents=self.agents,
            emit=self.emit_event,
            fire=self.fire,
            observers=self.observers,
        )
        self.scheduler = Scheduler(
            spec=spec,
            options=self.options,
            workers=self.workers,
            signals=self.signals,
            signal_times=self.signal_times,
            max_parallel=self.max_parallel,
            emit=self.emit_event,
            spawner=self.spawner,
            view=lambda: self.view,
            cancelled=lambda: self.cancelled,
            cancel_run=self.cancel,
            file_source=lambda: self.files.source,
        )
        self.view = RunView(
            run_id=self.run_id,
            spec=spec,
            root=workspace_root,
            spec_dir=self.spec_dir,
            agents=self.agents,
            signals=self.signals,
            liveness=self.scheduler,
            consent=self.consent,
            emit=self.emit_event,
            spawner=self.spawner,
            state=lambda: self.state,
            watching=lambda: self.files.source is not None,
        )
        self.started_mono = 0.0
        self.started_wall = ""
        self.finished_mono: float | None = None
        self.shared_context = SharedContext()
        self.budget: RunBudget = self.options.extra.get("budget") or RunBudget(spec.budget_usd)
        """The run's shared LLM spend (``budget_usd``)."""
        self.output = OutputBatcher(event_log, self.run_id)
        self._user_extras: dict[str, Any] = {}
        self.isolation = _isolation_of(self) if self.options.repo is not None else None

    def _worker(self, runtime: AgentRuntime) -> AgentWorker:
        def on_state(worker: AgentWorker, old: AgentStatus, new: AgentStatus) -> None:
            self.scheduler.on_state(worker, old, new)
            self.observers.agent_state(worker.name, new)

        return AgentWorker(
            runtime,
            emit=self.emit_event,
            spawner=self.spawner,
            make_context=self._context,
            checks=lambda: self.checks,
            run_cancelled=lambda: self.cancelled,
            on_state=on_state,
            on_done=lambda worker, ended: self.scheduler.on_done(worker, ended),
        )

    @property
    def cancelled(self) -> bool:
        return self.state in (RunState.CANCELLING, RunState.CANCELLED)

    @property
    def live(self) -> bool:
        return self.state.live

    @property
    def result_status(self) -> str:
        """``running`` while live, then ``succeeded``, ``failed`` or ``cancelled``."""
        return "running" if self.state.live else self.state.value

    def observe(self, observer: RunObserver) -> Callable[[], None]:
        """Follow this run (engine parts such as the checks); returns the unsubscribe function."""
        return self.observers.add(observer)

    # -- events -----------------------------------------------------------------------------------

    def emit_event(
        self, type: str, actor: str | None = None, action: str | None = None, **metadata: Any
    ) -> None:
        """Append an event of this run without waiting (the log keeps order; `flush` waits)."""
        try:
            if actor is not None:
                self.output.flush(actor)
            self.log.emit(self.run_id, type, actor, action, metadata)
        except RuntimeError:
            log.warning("event after log closed: %s %s %s", type, actor, action)

    # -- signals --------------------------------------------------------------------------------------

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
        self.emit_event(EventType.SIGNAL, actor, name, **metadata)
        for future in self._signal_futures.pop(name, []):
            if not future.done():
                future.set_result(metadata)
        self.scheduler.need_met(name)
        self.observers.signal(name, metadata)
        return True

    async def wait_for_signal(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        if name in self.signals:
            return self.signals[name]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._signal_futures.setdefault(name, []).append(future)
        return await asyncio.wait_for(future, timeout)

    # -- agents ---------------------------------------------------------------------------------------

    def _context(self, worker: AgentWorker) -> AgentContext:
        place = self.isolation.place_of(worker.agent) if self.isolation is not None else None
        return agent_context(
            worker,
            place=place,
            run_id=self.run_id,
            spec=self.spec,
            root=self.root,
            tools=self.files.tools,
            shared_context=self.shared_context,
            consent=self.consent,
            fire=self.fire,
            wait_for_signal=self.wait_for_signal,
            output=self.output,
            redactor=self.log.redactor,
            emit=self.emit_event,
            speed=self.options.speed,
            options={
                "record": self.options.record,
                **self._user_extras,
                **self.options.extra,
                "budget": self.budget,
                "resumed": self.options.resumed,
            },
        )

    def cancel(self) -> None:
        """Cancel the whole run: running agents are cancelled, the rest never start."""
        if self.state not in (RunState.STARTING, RunState.RUNNING):
            return
        self.state = RunState.CANCELLING
        self.scheduler.cancel_all()
        if self.checks is not None:
            self.checks.cancel()

    def cancel_agent(self, name: str) -> bool:
        return self.scheduler.cancel_one(name)

    # -- running ----------------------------------------------------------------------------------------

    async def execute(self) -> str:
        """Run to the end; returns the run's status (succeeded, failed or cancelled)."""
        await self.consent.snapshot()  # consent is what it is now: nothing an agent writes counts
        self._user_extras = await user_extras(self.options, self.root)
        isolation = await self.isolation.start(self.view, self.spawner) if self.isolation is not None else {}
        self.started_mono = time.monotonic()
        self.started_wall = utc_timestamp()
        self.emit_event(
            EventType.RUN_RESUMED if self.options.resumed else EventType.RUN_STARTED,
            None,
            self.options.resumed or self.spec.feature,
            **started_metadata(self.spec, self.options, list(self.agents.values()), self.max_parallel),
            **isolation,
        )
        await self.log.record_run(self.run_id, str(self.spec.path), os.getpid())
        try:
            self.shared_context = await load_shared_context(self.spec_dir, self.spec.context, root=self.root)
            self.emit_event(
                EventType.CONTEXT_LOADED, None, None, **self.shared_context.metrics(len(self.agents))
            )
            if self.options.watch:
                await self.files.start_watching(self.options.watcher_ignores)
            if self.state == RunState.STARTING:
                self.state = RunState.RUNNING
            self.scheduler.start()
            self.observers.run_started()
            await self.scheduler.done.wait()
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
        await _wait_tasks([a.task for a in self.agents.values() if a.task is not None])

    async def _finish(self) -> None:
        await self._wait_agents()
        await self.files.stop_watching()
        if self.isolation is not None:
            failed = {a.name for a in self.agents.values() if a.state in (S.FAILED, S.TIMED_OUT)}
            await self.isolation.close(set() if self.cancelled else failed)
        await self.spawner.aclose()
        self.finished_mono = time.monotonic()
        if self.cancelled:
            self.state = RunState.CANCELLED
        elif (
            all(a.state == S.SUCCEEDED for a in self.agents.values())
            and not (self.checks is not None and self.checks.open_errors())
            and not (self.isolation is not None and self.isolation.conflicts.open_findings())
        ):
            self.state = RunState.SUCCEEDED
        else:
            self.state = RunState.FAILED
        if self.spec_lock is not None:
            self.spec_lock.release()  # closing one descriptor: no I/O to wait for
        self.emit_event(
            EventType.RUN_FINISHED,
            None,
            self.result_status,
            wall_s=round(self.finished_mono - self.started_mono, 4),
            agents={a.name: a.state.value for a in self.agents.values()},
            open_findings=len(self.checks.open_findings()) if self.checks is not None else 0,
        )
        await self.log.flush()
        await self.log.finish_run(self.run_id, self.result_status)

    # -- the typed snapshot -------------------------------------------------------------------------

    def status(self) -> RunStatusInfo:
        """The run as it stands: what the faces show between events (never `agents` itself)."""
        state = "running" if self.state == RunState.CANCELLING else self.state.value
        return RunStatusInfo(
            runId=self.run_id,
            spec=str(self.spec.path),
            state=state,
            agents=[agent_status(a) for a in self.agents.values()],
            signals=dict(self.signal_times),
            signal_by={name: actor for name, actor in self.signal_actor.items() if actor is not None},
            started_at=self.started_wall or None,
        )

    def agent_status(self, name: str) -> AgentStatusInfo | None:
        """One agent of `status()` (None if not in this run), without snapshotting the others."""
        return agent_status(agent) if (agent := self.agents.get(name)) is not None else None


def _isolation_of(run: Run) -> RunIsolation:
    """The isolated agents' part of ``run`` (its options name the repository)."""
    from counterpoint.engine.run.isolation import RunIsolation

    isolation = RunIsolation(
        repo=run.options.repo,
        run_id=run.run_id,
        root=run.root,
        spec_dir=run.spec_dir,
        signals=run.spec.signals,
        agents=run.agents,
        emit=run.emit_event,
        fire=run.fire,
        make_tools=run.files.tools_at,
        files_changed=run.observers.files_changed,
        state_dir=run.root / STATE_DIR,
        watch=run.options.watch,
        restored=run.options.restored_isolation,
        restored_signals=run.options.restored_signals,
        checks=bool(run.spec.checks),
    )
    for worker in run.workers.values():
        worker.isolation = isolation
    run.observe(isolation)
    return isolation


async def _wait_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for the agents' tasks to end (10 s at most: a cancelled agent unwinds quickly)."""
    if pending := [task for task in tasks if not task.done()]:
        await asyncio.wait(pending, timeout=10)

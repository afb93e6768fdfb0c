"""`AgentWorker`: one agent's life in a run, as a small state machine worker.

It owns the agent's `AgentRuntime` and every move of it: each transition is checked by the
state machine and becomes exactly one event (with its typed payload); it starts the agent's
runner with its timeout, retries it, runs it as the integrator, cancels it. What comes next
(the needs it meets, the queue's next agent) is the scheduler's, told through ``on_state`` and
``on_done``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import (
    STATE_EVENT,
    AgentFinishedPayload,
    AgentQueuedPayload,
    AgentStartedPayload,
    AgentStatus,
    AgentWaitingPayload,
    EventType,
    utc_timestamp,
)
from pydantic import BaseModel

from counterpoint.engine.executors import RemoteAgents, remote_for
from counterpoint.engine.isolation import IsolationError
from counterpoint.engine.process import TaskSpawner
from counterpoint.engine.run.conflicts import MergeConflict
from counterpoint.engine.run.state import AgentRuntime, waiting_names
from counterpoint.engine.runners import get_runner
from counterpoint.engine.runners.base import AgentContext, AgentFailed, begin_run

if TYPE_CHECKING:
    from counterpoint.engine.run.isolation import RunIsolation
    from counterpoint.engine.run.observer import RunChecks
    from counterpoint.engine.run.view import Emit

log = logging.getLogger(__name__)
S = AgentStatus
_PAYLOAD: dict[AgentStatus, type[BaseModel]] = {
    S.WAITING: AgentWaitingPayload,
    S.QUEUED: AgentQueuedPayload,
    S.RUNNING: AgentStartedPayload,
    **{status: AgentFinishedPayload for status in STATE_EVENT if status.terminal},
}


class AgentWorker:
    """One agent of a run: its state, its transitions and their events, its task."""

    def __init__(
        self,
        agent: AgentRuntime,
        *,
        emit: Emit,
        spawner: TaskSpawner,
        make_context: Callable[[AgentWorker], AgentContext],
        checks: Callable[[], RunChecks | None],
        run_cancelled: Callable[[], bool],
        on_state: Callable[[AgentWorker, AgentStatus, AgentStatus], None],
        on_done: Callable[[AgentWorker, bool], None],
        isolation: RunIsolation | None = None,
    ) -> None:
        self.agent = agent
        self.name = agent.name
        self._emit = emit
        self._spawner = spawner
        self._make_context = make_context
        self._checks = checks
        self._run_cancelled = run_cancelled
        self._on_state = on_state
        self._on_done = on_done
        self.isolation = isolation

    @property
    def state(self) -> AgentStatus:
        return self.agent.state

    # -- transitions --------------------------------------------------------------------------------

    def transition(self, new: AgentStatus, **metadata: Any) -> None:
        """Move to ``new`` and append its one event (payload: ``metadata`` plus what the state
        says: waiting_on, duration_s, error)."""
        agent = self.agent
        old = agent.transition(new)
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
        model = _PAYLOAD.get(new)
        payload = model(**metadata).model_dump(exclude_unset=True) if model is not None else metadata
        self._emit(STATE_EVENT[new], agent.name, new.value, **payload)
        self._on_state(self, old, new)

    def end(self, state: AgentStatus, error: str, **metadata: Any) -> None:
        """End now (blocked, skipped, cancelled before it ran) with ``error`` as the reason."""
        self.agent.error = error
        self.transition(state, **metadata)

    def began(self) -> None:
        """Its work actually began (process started, runner began): once per running stint."""
        if self.agent.mark_active():
            self._emit(EventType.AGENT_ACTIVE, self.name, None, attempt=self.agent.attempts)

    # -- life ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Run it now (the scheduler gave it a slot)."""
        self.agent.attempts += 1
        remote = self._remote()
        where = remote.place(self.agent) if remote is not None else {}  # executor: ray names its node
        self.transition(
            S.RUNNING, attempt=self.agent.attempts, runner=self.agent.spec.settings.runner, **where
        )
        self.agent.task = self._spawner.spawn(self._life(), name=f"agent {self.name}")

    def cancel(self, error: str) -> bool:
        """Stop it: a running agent's task is cancelled (it ends as its task unwinds); one not
        yet running ends now. True if it ended now (the caller tells the scheduler)."""
        if self.agent.terminal:
            return False
        if self.agent.state == S.RUNNING:
            if self.agent.task is not None:
                self.agent.task.cancel()
            return False
        self.end(S.CANCELLED, error)
        return True

    def _remote(self) -> RemoteAgents | None:
        """What runs it elsewhere (``executor: ray``, or ``--executor ray``); None: this process.
        Only isolated runs have agents elsewhere (their work travels as git objects)."""
        if self.isolation is None:
            return None
        return remote_for(self.agent, self._make_context(self).options, self.isolation)

    async def _life(self) -> None:
        agent = self.agent
        settings = agent.spec.settings
        final: AgentStatus = S.SUCCEEDED
        try:
            while True:
                final = await self._attempt()
                if final == S.SUCCEEDED:
                    break
                if agent.attempts > settings.retries or self._run_cancelled():
                    break
                agent.attempts += 1
                self._emit(
                    EventType.AGENT_OUTPUT,
                    self.name,
                    "retry",
                    line=f"retrying ({agent.error})",
                    attempt=agent.attempts,
                )
        except asyncio.CancelledError:
            final = S.CANCELLED
            agent.error = agent.error or "cancelled"
        finally:
            ended = not agent.terminal
            if ended:
                self.transition(final, attempts=agent.attempts)
            self._on_done(self, ended)

    async def _attempt(self) -> AgentStatus:
        """One attempt; its outcome (the error, if any, is on the agent). An isolated agent's
        attempt runs in a fresh working copy, and ends with its work merged; a merge conflict
        with ``on_conflict: restart`` runs it again on the new tip (not counted as a retry)."""
        while True:
            outcome = await self._attempt_once()
            if outcome is not None:
                return outcome
            self._emit(EventType.AGENT_OUTPUT, self.name, "restart", line="restarting after a merge conflict")

    async def _attempt_once(self) -> AgentStatus | None:
        agent = self.agent
        settings = agent.spec.settings
        isolation = self.isolation if self.isolation is not None and self.isolation.isolated(agent) else None
        try:
            if (remote := self._remote()) is not None:  # on another machine (executors/): its work merged
                await remote.attempt(agent, self._make_context(self))
                agent.error = None
                return S.SUCCEEDED
            if isolation is not None:
                await isolation.prepare(agent)
            runner = get_runner(settings.runner)
            checks = self._checks()
            if settings.integrate and checks is not None and checks.has_checks():
                await checks.integrate(agent, lambda: self._make_context(self))
            else:
                await asyncio.wait_for(begin_run(runner, self._make_context(self)), settings.timeout)
            if isolation is not None:
                await isolation.finish(agent)
        except TimeoutError:
            agent.error = f"timed out after {settings.timeout:g} s"
            return S.TIMED_OUT
        except MergeConflict as exc:
            if exc.restart:
                return None
            agent.error = str(exc)
            return S.FAILED
        except IsolationError as exc:
            agent.error = f"working copy: {exc}"
            return S.FAILED
        except AgentFailed as exc:
            agent.error = str(exc)
            return S.FAILED
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runner bug must not take the run down
            log.exception("agent %s crashed", agent.name)
            agent.error = f"{type(exc).__name__}: {exc}"
            return S.FAILED
        agent.error = None
        return S.SUCCEEDED

"""The scheduling half of a run: when each agent becomes ready, starts, ends, or is blocked.

A mixin of `Run` (which holds the state and turns every state change into one event):
needs met -> ready (gate?) -> queued under ``max_parallel`` -> running (with timeout and
retries, or as the integrator) -> terminal, and at every step the agents whose needs can
no longer be met are blocked at once rather than left waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from counterpoint_protocol.events import AgentStatus, EventType, utc_timestamp

from counterpoint.engine.agent_state import AgentRuntime
from counterpoint.engine.run_options import GateAnswer, RunOptions
from counterpoint.engine.runners import get_runner
from counterpoint.engine.runners.base import AgentContext, AgentFailed, begin_run
from counterpoint.engine.spawner import TaskSpawner

if TYPE_CHECKING:
    from counterpoint_protocol.spec import Spec

    from counterpoint.engine.checks.runner import CheckManager
    from counterpoint.engine.run import Run

log = logging.getLogger("counterpoint.engine.run")
S = AgentStatus


class Scheduling:
    """Scheduling methods of `Run`; the attributes below are `Run`'s."""

    spec: Spec
    options: RunOptions
    agents: dict[str, AgentRuntime]
    signals: dict[str, dict[str, Any]]
    signal_times: dict[str, str]
    max_parallel: int
    cancelled: bool
    state: str
    spawner: TaskSpawner
    listeners: list[Callable[[str, Any], None]]
    checks: CheckManager | None
    file_source: Any
    _queue: deque[str]
    _running: int
    _done: asyncio.Event
    _settling: bool
    _stall_settled: bool

    if TYPE_CHECKING:

        def _set_state(self, agent: AgentRuntime, new: AgentStatus, **metadata: Any) -> None: ...
        def _emit(
            self, type: str, actor: str | None = None, action: str | None = None, **metadata: Any
        ) -> None: ...
        def _need_met(self, need: str) -> None: ...
        def _context(self, agent: AgentRuntime) -> AgentContext: ...
        def _can_still_fire(self, need: str) -> bool: ...
        def cancel(self) -> None: ...

    def _initial_needs(self, agent: AgentRuntime) -> set[str]:
        needs = set(agent.needs)
        # An agent outside the selection that is needed by name: it is not run, so the need stays.
        if agent.spec.settings.integrate:
            needs |= {f"agent:{a.name}" for a in self.agents.values() if not a.spec.settings.integrate}
        return needs

    def _start_scheduling(self) -> None:
        for name, metadata in self.options.restored_signals.items():
            self.signals.setdefault(name, metadata)
            self.signal_times.setdefault(name, utc_timestamp())
        for name in self.options.completed_agents:
            self.signals.setdefault(name, {"agent": name, "restored": True})
        for agent in self.agents.values():
            agent.waiting_on = {n for n in self._initial_needs(agent) if n not in self.signals}
            if agent.waiting_on:
                self._set_state(agent, S.WAITING)
            else:
                self._ready(agent)
        self._check_blocked()

    def _ready(self, agent: AgentRuntime) -> None:
        if self.cancelled:
            return
        if agent.spec.settings.gate == "approve" and not self.options.approve_all:
            self._set_state(agent, S.GATED)
            self.spawner.spawn(self._ask_gate(agent), name=f"gate {agent.name}")
            return
        self._enqueue(agent)

    def _enqueue(self, agent: AgentRuntime) -> None:
        # First come, first served: an agent ready now never takes a slot ahead of queued ones.
        if self._running < self.max_parallel and not self._queue:
            self._launch(agent)
        else:
            self._set_state(agent, S.QUEUED, running=self._running, max_parallel=self.max_parallel)
            self._queue.append(agent.name)

    async def _ask_gate(self, agent: AgentRuntime) -> None:
        released = agent.released_by
        since = ""
        if released and released in self.agents and self.agents[released].finished_at is not None:
            ago = time.monotonic() - (self.agents[released].finished_at or 0.0)
            since = f" {released} succeeded {ago:.0f} s ago"
        elif released and released in self.signal_times:
            from counterpoint_protocol.events import parse_timestamp

            ago = time.time() - parse_timestamp(self.signal_times[released]).timestamp()
            since = f" {released} fired {ago:.0f} s ago"
        question = f"Start {agent.name}?{since}"
        answer: GateAnswer = "start"
        if self.options.gate_handler is not None:
            try:
                answer = await self.options.gate_handler(cast("Run", self), agent.name, question)
            except Exception:
                log.exception("gate handler failed; skipping %s", agent.name)
                answer = "skip"
        else:
            answer = "skip"
        self._emit(EventType.GATE_ANSWERED, agent.name, answer, question=question)
        if agent.state != S.GATED:
            return
        if answer == "start":
            self._enqueue(agent)
        elif answer == "skip":
            agent.error = "skipped at the gate"
            self._set_state(agent, S.SKIPPED)
            self._after_terminal(agent)
        else:
            self.cancel()

    def _launch(self, agent: AgentRuntime) -> None:
        self._running += 1
        agent.attempts += 1
        self._set_state(agent, S.RUNNING, attempt=agent.attempts, runner=agent.spec.settings.runner)
        agent.task = self.spawner.spawn(self._run_agent(agent), name=f"agent {agent.name}")

    async def _run_agent(self, agent: AgentRuntime) -> None:
        settings = agent.spec.settings
        final: AgentStatus = S.SUCCEEDED
        try:
            while True:
                try:
                    runner = get_runner(settings.runner)
                    if settings.integrate and self.checks is not None and self.checks.states:
                        await self._integrate(agent)
                    else:
                        await asyncio.wait_for(begin_run(runner, self._context(agent)), settings.timeout)
                    final = S.SUCCEEDED
                    agent.error = None
                    break
                except TimeoutError:
                    agent.error = f"timed out after {settings.timeout:g} s"
                    final = S.TIMED_OUT
                except AgentFailed as exc:
                    agent.error = str(exc)
                    final = S.FAILED
                except Exception as exc:  # a runner bug must not take the run down
                    log.exception("agent %s crashed", agent.name)
                    agent.error = f"{type(exc).__name__}: {exc}"
                    final = S.FAILED
                if agent.attempts > settings.retries or self.cancelled:
                    break
                agent.attempts += 1
                self._emit(
                    EventType.AGENT_OUTPUT,
                    agent.name,
                    "retry",
                    line=f"retrying ({agent.error})",
                    attempt=agent.attempts,
                )
        except asyncio.CancelledError:
            final = S.CANCELLED
            agent.error = agent.error or "cancelled"
        finally:
            self._running -= 1
            if not agent.terminal:
                self._set_state(agent, final, attempts=agent.attempts)
                self._after_terminal(agent)
            self._drain_queue()

    async def _integrate(self, agent: AgentRuntime) -> None:
        from counterpoint.engine.integrator import integrate

        await integrate(cast("Run", self), agent)

    def _drain_queue(self) -> None:
        while self._queue and self._running < self.max_parallel and not self.cancelled:
            name = self._queue.popleft()
            agent = self.agents[name]
            if agent.state == S.QUEUED:
                self._launch(agent)

    def _after_terminal(self, agent: AgentRuntime) -> None:
        if agent.state == S.SUCCEEDED:
            self._need_met(agent.name)
        self._need_met(f"agent:{agent.name}")
        for listener in list(self.listeners):
            listener("agent_finished", agent.name)
        self._check_blocked()
        if all(a.terminal for a in self.agents.values()):
            self._done.set()

    def _check_blocked(self) -> None:
        """Block every waiting agent whose needs can no longer be met, at once."""
        changed = True
        while changed:
            changed = False
            for agent in self.agents.values():
                if agent.state != S.WAITING:
                    continue
                dead = sorted(
                    n for n in agent.waiting_on if not n.startswith("agent:") and not self._can_still_fire(n)
                )
                if dead:
                    agent.error = "; ".join(self._why_dead(n) for n in dead)
                    self._set_state(agent, S.BLOCKED, unmet=dead)
                    self._after_blocked(agent)
                    changed = True
            if not changed and not self._active():
                stalled = [a for a in self.agents.values() if a.state == S.WAITING]
                if stalled and self._settle_files_first(stalled):
                    return
                for agent in stalled:
                    agent.error = "nothing left in the run can fire " + ", ".join(sorted(agent.waiting_on))
                    self._set_state(agent, S.BLOCKED, unmet=sorted(agent.waiting_on))
                    self._after_blocked(agent)
                    changed = True

    def _settle_files_first(self, stalled: list[AgentRuntime]) -> bool:
        """Before blocking agents that wait on a file signal because nothing runs any more, let the
        watcher settle once: a file the last agent wrote just before it ended may still be on its
        way (behind a storm of other changes). True while that settling is pending."""
        if self.file_source is None or self.cancelled or self._stall_settled:
            return False
        if not any(need in self.spec.signals for a in stalled for need in a.waiting_on):
            return False
        if self._settling:
            return True
        self._settling = True
        source = self.file_source

        async def settle_then_check() -> None:
            try:
                await source.settle()
            finally:
                self._settling = False
            self._stall_settled = True
            try:
                self._check_blocked()
            finally:
                self._stall_settled = False

        self.spawner.spawn(settle_then_check(), name="settle file signals")
        return True

    def _after_blocked(self, agent: AgentRuntime) -> None:
        self._need_met(f"agent:{agent.name}")
        for listener in list(self.listeners):
            listener("agent_finished", agent.name)
        if all(a.terminal for a in self.agents.values()):
            self._done.set()

    def _active(self) -> bool:
        return (
            any(a.state in (S.RUNNING, S.QUEUED, S.GATED) for a in self.agents.values())
            or self.state == "starting"
        )

    def _why_dead(self, need: str) -> str:
        if need in self.agents:
            agent = self.agents[need]
            return f"{need} {agent.state.value}" + (f" ({agent.error})" if agent.error else "")
        emitters = [a.name for a in self.agents.values() if need in a.spec.settings.emits]
        if emitters:
            return f"{need} can no longer fire: " + ", ".join(
                f"{n} {self.agents[n].state.value} without firing it" for n in emitters
            )
        return f"{need} can no longer fire: no agent in this run emits it"

    # -- control ----------------------------------------------------------------------------------

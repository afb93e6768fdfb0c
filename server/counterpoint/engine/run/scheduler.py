"""`Scheduler`: when each agent of a run becomes ready, starts, or is blocked.

needs met -> ready (gate?) -> queued under ``max_parallel`` -> running (its worker) -> ended,
and at every step the agents whose needs can no longer be met are blocked at once rather than
left waiting. Readiness is indexed: a need maps to the agents waiting on it, so a met need
re-checks only its waiters, and an agent that ends re-checks only the waiters of what it could
have met (its name, its ``emits``); counters say whether anything is still active. Work per
event is proportional to the agents it concerns, not to the run's size.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import AgentStatus, EventType, parse_timestamp, utc_timestamp
from counterpoint_protocol.spec import Spec

from counterpoint.engine.process import TaskSpawner
from counterpoint.engine.run.options import GateAnswer, RunOptions
from counterpoint.engine.run.worker import AgentWorker

if TYPE_CHECKING:
    from counterpoint.engine.run.view import Emit, RunView

log = logging.getLogger(__name__)
S = AgentStatus
_ACTIVE = frozenset({S.RUNNING, S.QUEUED, S.GATED})
_NOT_STARTED = frozenset({S.PENDING, S.WAITING, S.QUEUED, S.GATED})


class Scheduler:
    """The readiness index, the queue and ``max_parallel`` of one run; gates; blocking."""

    def __init__(
        self,
        *,
        spec: Spec,
        options: RunOptions,
        workers: dict[str, AgentWorker],
        signals: dict[str, dict[str, Any]],
        signal_times: dict[str, str],
        max_parallel: int,
        emit: Emit,
        spawner: TaskSpawner,
        view: Callable[[], RunView],
        cancelled: Callable[[], bool],
        cancel_run: Callable[[], None],
        file_source: Callable[[], Any],
    ) -> None:
        self.spec = spec
        self.options = options
        self.workers = workers
        self.signals = signals
        self.signal_times = signal_times
        self.max_parallel = max_parallel
        self._emit = emit
        self._spawner = spawner
        self._view = view
        self._cancelled = cancelled
        self._cancel_run = cancel_run
        self._file_source = file_source
        self._order = {name: i for i, name in enumerate(workers)}
        self._emitters: dict[str, list[AgentWorker]] = {}
        """Signal -> the agents that declare they emit it (a need is checked in O(emitters))."""
        for worker in workers.values():
            for signal in worker.agent.spec.settings.emits:
                self._emitters.setdefault(signal, []).append(worker)
        self._waiters: dict[str, list[AgentWorker]] = {}
        """Need -> the agents that waited on it when they started waiting."""
        self._waiting: dict[str, AgentWorker] = {}
        self.queue: deque[str] = deque()
        self.running = 0
        self._active = 0
        self._ended = 0
        self.started = False
        self.done = asyncio.Event()
        self._settling = False
        self._stall_settled = False

    # -- bookkeeping (every transition of every worker comes through here) -------------------------

    def on_state(self, worker: AgentWorker, old: AgentStatus, new: AgentStatus) -> None:
        self._active += (new in _ACTIVE) - (old in _ACTIVE)
        self.running += (new == S.RUNNING) - (old == S.RUNNING)
        self._ended += new.terminal - old.terminal
        if old == S.WAITING:
            self._waiting.pop(worker.name, None)
        if new == S.WAITING:
            self._waiting[worker.name] = worker

    def all_ended(self) -> bool:
        return self._ended == len(self.workers)

    def _check_done(self) -> None:
        if self.all_ended():
            self.done.set()

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Restore what an earlier run left (resume, rerun), then schedule every agent."""
        for name, metadata in self.options.restored_signals.items():
            self.signals.setdefault(name, metadata)
            self.signal_times.setdefault(name, utc_timestamp())
        for name in self.options.completed_agents:
            self.signals.setdefault(name, {"agent": name, "restored": True})
        self.started = True
        for worker in self.workers.values():
            agent = worker.agent
            agent.waiting_on = {n for n in self._initial_needs(worker) if n not in self.signals}
            if agent.waiting_on:
                for need in agent.waiting_on:
                    self._waiters.setdefault(need, []).append(worker)
                worker.transition(S.WAITING)
            else:
                self._ready(worker)
        self.check_blocked(list(self._waiting.values()))
        self._check_done()

    def _initial_needs(self, worker: AgentWorker) -> set[str]:
        needs = set(worker.agent.needs)
        # An agent outside the selection that is needed by name: it is not run, so the need stays.
        if worker.agent.spec.settings.integrate:
            needs |= {f"agent:{w.name}" for w in self.workers.values() if not w.agent.spec.settings.integrate}
        return needs

    # -- readiness --------------------------------------------------------------------------------

    def need_met(self, need: str) -> None:
        """``need`` is met (a signal fired, an agent ended): its waiters whose needs are now all
        met become ready, in the run's order."""
        for worker in self._waiters.pop(need, ()):
            agent = worker.agent
            if agent.state == S.WAITING and need in agent.waiting_on:
                agent.waiting_on.discard(need)
                if not agent.waiting_on:
                    agent.released_by = need
                    self._ready(worker)

    def can_still_fire(self, need: str) -> bool:
        if need in self.signals:
            return True
        if need in self.workers:
            return not self.workers[need].agent.terminal
        if need in self.spec.signals:
            return True  # a file may still appear; the stall check handles the end of the line
        return any(not w.agent.terminal for w in self._emitters.get(need, ()))

    def why_dead(self, need: str) -> str:
        if need in self.workers:
            agent = self.workers[need].agent
            return f"{need} {agent.state.value}" + (f" ({agent.error})" if agent.error else "")
        emitters = self._emitters.get(need, [])
        if emitters:
            return f"{need} can no longer fire: " + ", ".join(
                f"{w.name} {w.agent.state.value} without firing it" for w in emitters
            )
        return f"{need} can no longer fire: no agent in this run emits it"

    # -- ready -> gated / queued -> running -----------------------------------------------------------

    def _ready(self, worker: AgentWorker) -> None:
        if self._cancelled():
            return
        if worker.agent.spec.settings.gate == "approve" and not self.options.approve_all:
            worker.transition(S.GATED)
            self._spawner.spawn(self._ask_gate(worker), name=f"gate {worker.name}")
            return
        self._enqueue(worker)

    def _enqueue(self, worker: AgentWorker) -> None:
        # First come, first served: an agent ready now never takes a slot ahead of queued ones.
        if self.running < self.max_parallel and not self.queue:
            worker.start()
        else:
            worker.transition(S.QUEUED, running=self.running, max_parallel=self.max_parallel)
            self.queue.append(worker.name)

    def drain(self) -> None:
        """Start queued agents while there are free slots."""
        while self.queue and self.running < self.max_parallel and not self._cancelled():
            worker = self.workers[self.queue.popleft()]
            if worker.state == S.QUEUED:
                worker.start()

    async def _ask_gate(self, worker: AgentWorker) -> None:
        question = f"Start {worker.name}?{released_since(worker, self.workers, self.signal_times)}"
        answer: GateAnswer = "skip"
        if self.options.gate_handler is not None:
            try:
                answer = await self.options.gate_handler(self._view(), worker.name, question)
            except Exception:
                log.exception("gate handler failed; skipping %s", worker.name)
                answer = "skip"
        self._emit(EventType.GATE_ANSWERED, worker.name, answer, question=question)
        if worker.state != S.GATED:
            return
        if answer == "start":
            self._enqueue(worker)
        elif answer == "skip":
            worker.end(S.SKIPPED, "skipped at the gate")
            self.agent_ended(worker)
        else:
            self._cancel_run()

    # -- ended -----------------------------------------------------------------------------------------

    def on_done(self, worker: AgentWorker, ended: bool) -> None:
        """A worker's task finished (``ended``: it moved to its final state just now)."""
        if ended:
            self.agent_ended(worker)
        self.drain()

    def agent_ended(self, worker: AgentWorker) -> None:
        """After ``worker`` reached a final state: meet its needs, block what it leaves unmet."""
        if worker.state == S.SUCCEEDED:
            self.need_met(worker.name)
        self.need_met(f"agent:{worker.name}")
        self.check_blocked(self._waiters_of([worker]))
        self._check_done()

    def _waiters_of(self, ended: Iterable[AgentWorker]) -> list[AgentWorker]:
        """The waiting agents that may have lost a need because these agents ended."""
        found: dict[str, AgentWorker] = {}
        for worker in ended:
            for need in (worker.name, *worker.agent.spec.settings.emits):
                for waiter in self._waiters.get(need, ()):
                    if waiter.state == S.WAITING:
                        found[waiter.name] = waiter
        return list(found.values())

    def check_blocked(self, candidates: list[AgentWorker]) -> None:
        """Block, at once, every candidate whose needs can no longer be met, then the agents that
        leaves stranded; when nothing is active any more, every agent still waiting."""
        while True:
            blocked: list[AgentWorker] = []
            for worker in sorted(candidates, key=lambda w: self._order[w.name]):
                if worker.state != S.WAITING:
                    continue
                dead = sorted(
                    n
                    for n in worker.agent.waiting_on
                    if not n.startswith("agent:") and not self.can_still_fire(n)
                )
                if dead:
                    worker.end(S.BLOCKED, "; ".join(self.why_dead(n) for n in dead), unmet=dead)
                    self._after_blocked(worker)
                    blocked.append(worker)
            if not blocked and not self._is_active():
                blocked = self._block_stalled()
            if not blocked:
                return
            candidates = self._waiters_of(blocked)
            if not candidates and not self._is_active():
                candidates = list(self._waiting.values())

    def _block_stalled(self) -> list[AgentWorker]:
        stalled = sorted(self._waiting.values(), key=lambda w: self._order[w.name])
        if not stalled or self._settle_files_first(stalled):
            return []
        for worker in stalled:
            unmet = sorted(worker.agent.waiting_on)
            worker.end(S.BLOCKED, "nothing left in the run can fire " + ", ".join(unmet), unmet=unmet)
            self._after_blocked(worker)
        return stalled

    def _after_blocked(self, worker: AgentWorker) -> None:
        self.need_met(f"agent:{worker.name}")
        self._check_done()

    def _is_active(self) -> bool:
        return self._active > 0 or not self.started

    def _settle_files_first(self, stalled: list[AgentWorker]) -> bool:
        """Before blocking agents that wait on a file signal because nothing runs any more, let the
        watcher settle once: a file the last agent wrote just before it ended may still be on its
        way (behind a storm of other changes). True while that settling is pending."""
        source = self._file_source()
        if source is None or self._cancelled() or self._stall_settled:
            return False
        if not any(need in self.spec.signals for w in stalled for need in w.agent.waiting_on):
            return False
        if self._settling:
            return True
        self._settling = True

        async def settle_then_check() -> None:
            try:
                await source.settle()
            finally:
                self._settling = False
            self._stall_settled = True
            try:
                self.check_blocked(list(self._waiting.values()))
            finally:
                self._stall_settled = False

        self._spawner.spawn(settle_then_check(), name="settle file signals")
        return True

    # -- cancel ----------------------------------------------------------------------------------------

    def cancel_all(self) -> None:
        """The run is cancelled: agents not started end now, running ones are stopped."""
        for worker in self.workers.values():
            if worker.state in _NOT_STARTED:
                worker.end(S.CANCELLED, "run cancelled")
            elif worker.state == S.RUNNING:
                worker.cancel("run cancelled")
        self.queue.clear()
        self._check_done()

    def cancel_one(self, name: str) -> bool:
        worker = self.workers.get(name)
        if worker is None or worker.agent.terminal:
            return False
        if worker.state != S.RUNNING and name in self.queue:
            self.queue.remove(name)
        if worker.cancel("cancelled"):
            self.agent_ended(worker)
        return True


def released_since(worker: AgentWorker, workers: dict[str, AgentWorker], signal_times: dict[str, str]) -> str:
    """`` backend succeeded 3 s ago``: what released a gated agent, for its question."""
    released = worker.agent.released_by
    if released and released in workers and workers[released].agent.finished_at is not None:
        ago = time.monotonic() - (workers[released].agent.finished_at or 0.0)
        return f" {released} succeeded {ago:.0f} s ago"
    if released and released in signal_times:
        ago = time.time() - parse_timestamp(signal_times[released]).timestamp()
        return f" {released} fired {ago:.0f} s ago"
    return ""

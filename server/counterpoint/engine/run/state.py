"""The states of a run: the run's own `RunState`, and each agent's explicit state machine.

An agent: pending -> waiting -> (gated) -> queued -> running -> succeeded | failed | timed_out |
cancelled and, from any non-terminal state, -> blocked | cancelled | skipped. Every transition is
checked here; the agent's worker (`worker.AgentWorker`) turns each one into exactly one event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from counterpoint_protocol.events import AgentStatus
from counterpoint_protocol.messages import AgentStatusInfo
from counterpoint_protocol.spec import AgentSpec

S = AgentStatus
_ALLOWED: dict[AgentStatus, frozenset[AgentStatus]] = {
    S.PENDING: frozenset({S.WAITING, S.GATED, S.QUEUED, S.RUNNING, S.BLOCKED, S.CANCELLED, S.SKIPPED}),
    S.WAITING: frozenset({S.GATED, S.QUEUED, S.RUNNING, S.BLOCKED, S.CANCELLED, S.SKIPPED}),
    S.GATED: frozenset({S.QUEUED, S.RUNNING, S.SKIPPED, S.CANCELLED, S.BLOCKED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.BLOCKED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.CANCELLED}),
}
# A rerun starts a finished agent over.
_RERUNNABLE = frozenset({S.FAILED, S.TIMED_OUT, S.CANCELLED, S.BLOCKED, S.SKIPPED, S.SUCCEEDED})


def waiting_names(needs: Iterable[str]) -> list[str]:
    """The needs an agent waits on, as shown to people: sorted, once each, agents by bare name."""
    return sorted({need.removeprefix("agent:") for need in needs})


def waiting_text(needs: Iterable[str]) -> str:
    """``waiting_names`` on one line: ``"api, schema-ready"``."""
    return ", ".join(waiting_names(needs))


class RunState(StrEnum):
    """The one state of a run (``cancelling``: cancel was asked, agents are still stopping)."""

    STARTING = "starting"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def live(self) -> bool:
        return self in (RunState.STARTING, RunState.RUNNING, RunState.CANCELLING)


class IllegalTransition(RuntimeError):
    pass


@dataclass
class AgentRuntime:
    """One agent's live state in a run."""

    spec: AgentSpec
    needs: frozenset[str]
    state: AgentStatus = AgentStatus.PENDING
    waiting_on: set[str] = field(default_factory=set)
    started_at: float | None = None
    """time.monotonic() when it started running."""
    active_at: float | None = None
    """time.monotonic() when its work actually began in this stint (see `mark_active`)."""
    finished_at: float | None = None
    started_wall: str | None = None
    finished_wall: str | None = None
    attempts: int = 0
    error: str | None = None
    last_output: str = ""
    fired: set[str] = field(default_factory=set)
    task: asyncio.Task[Any] | None = None
    released_by: str | None = None
    """The need that was met last, which let this agent start."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    def transition(self, new: AgentStatus) -> AgentStatus:
        """Move to ``new``; returns the old state. Raises IllegalTransition for a wrong move."""
        old = self.state
        allowed = _ALLOWED.get(old, frozenset())
        if new == S.PENDING and old in _RERUNNABLE:
            allowed = frozenset({S.PENDING})
        if new not in allowed:
            raise IllegalTransition(f"agent {self.name}: {old} -> {new} is not allowed")
        self.state = new
        now = time.monotonic()
        if new == S.RUNNING:
            self.started_at = now
            self.finished_at = None
            self.active_at = None
        elif new.terminal and self.started_at is not None:
            self.finished_at = now
        if new == S.PENDING:
            self.started_at = self.finished_at = self.active_at = None
            self.started_wall = self.finished_wall = None
            self.error = None
            self.fired.clear()
            self.waiting_on = set(self.needs)
            self.released_by = None
        return old

    def mark_active(self) -> bool:
        """Its work actually began (its process runs, or its runner started): True the first time
        in a running stint (a retry inside the stint is still that stint), else False."""
        if self.state != S.RUNNING or self.active_at is not None:
            return False
        self.active_at = time.monotonic()
        return True


def agent_status(agent: AgentRuntime) -> AgentStatusInfo:
    """One agent in the run's typed snapshot (`Run.status()`)."""
    return AgentStatusInfo(
        name=agent.name,
        state=agent.state.value,
        waiting_on=waiting_names(agent.waiting_on),
        started_at=agent.started_wall,
        finished_at=agent.finished_wall,
        duration_s=round(agent.duration, 3) if agent.duration is not None else None,
        last_output=agent.last_output or None,
        attempts=agent.attempts,
        error=agent.error,
    )

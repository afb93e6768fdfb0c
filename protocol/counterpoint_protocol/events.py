"""Events of the append-only log, and the agent state machine's states.

An event has exactly the keys the seed uses: ``id, run_id, type, actor,
action, metadata, timestamp``. ``counterpoint events --json`` prints one per
line, and the language server sends the same JSON as ``counterpoint/event``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    RUN_RESUMED = "run_resumed"
    CONTEXT_LOADED = "context_loaded"
    AGENT_WAITING = "agent_waiting"
    """The agent's needs are not met yet; metadata.waiting_on lists what is missing."""
    AGENT_QUEUED = "agent_queued"
    """Needs met; waiting for a free slot under max_parallel."""
    AGENT_GATED = "agent_gated"
    """Needs met; waiting for a person's approval (``gate: approve``)."""
    AGENT_STARTED = "agent_started"
    AGENT_ACTIVE = "agent_active"
    """Not a state change: the running agent's work actually began (command and acp: its process
    was started; other runners: the runner began), once per running stint. Busy time counts from
    here (from ``agent_started`` in logs written before this event existed)."""
    AGENT_OUTPUT = "agent_output"
    AGENT_FINISHED = "agent_finished"
    """action = the terminal status (succeeded, failed, timed_out, cancelled, blocked, skipped)."""
    SIGNAL = "signal"
    """action = the signal's name; metadata = what the emitter attached. A file signal (actor
    null) has ``path`` and ``kind``, and ``attribution``: ``write`` (``by`` = the agent whose
    tool write of that path came last), ``emits`` (``by`` = the one agent declaring it, which
    had started) or ``unknown`` (no ``by``)."""
    TOOL_CALL = "tool_call"
    FILE_WRITTEN = "file_written"
    USAGE = "usage"
    GATE_ANSWERED = "gate_answered"
    CHECK_STARTED = "check_started"
    CHECK_FINISHED = "check_finished"
    FINDING = "finding"
    FINDINGS_CLEARED = "findings_cleared"
    NOTICE = "notice"
    """Something a person should know (a warning about the run), not tied to one agent."""
    # -- isolated agents (``isolation: worktree``) --
    WORKING_COPY_CREATED = "working_copy_created"
    """An isolated agent's working copy is ready (metadata: `WorkingCopyPayload`)."""
    WORKING_COPY_REMOVED = "working_copy_removed"
    SNAPSHOT = "snapshot"
    """An isolated agent's working copy committed on its branch (at a signal it fired, or at its
    end): metadata ``commit``, ``signal`` (if any), ``files`` (changed since the last snapshot)."""
    AGENT_MERGED = "agent_merged"
    """An isolated agent's branch merged into the run's integration branch (`MergePayload`)."""
    MERGE_CONFLICT = "merge_conflict"
    """Merging an agent's branch conflicted (`ConflictPayload`); ``on_conflict`` decides next."""
    CONFLICT_PREDICTED = "conflict_predicted"
    """Two live agents' work (or one's and the integration tip) would conflict (`ConflictPayload`)."""
    CONFLICT_CLEARED = "conflict_cleared"
    """A predicted conflict went away (metadata ``key``: the predicted one's key)."""
    # -- agents on a cluster (``executor: ray``) --
    AGENT_MOVED = "agent_moved"
    """A running agent starts again on another node (`AgentMovedPayload`): the node it ran on died
    or left the cluster; what it had handed on stays, the rest of its attempt is done again."""
    # -- the director (``counterpoint plan``): run_id is the plan's id (``plan-...``) --
    PLAN_STARTED = "plan_started"
    """The director began planning a feature (`PlanStartedPayload`; actor ``director``)."""
    PLAN_DRAFT = "plan_draft"
    """A draft of the director checked (`PlanDraftPayload`): its round and the findings."""
    PLAN_FINISHED = "plan_finished"
    """The director ended (`PlanFinishedPayload`); action: ``ready`` (the spec passes check),
    ``invalid`` (written with errors left), ``failed`` or ``cancelled``."""


class AgentStatus(StrEnum):
    """The states of an agent's explicit state machine."""

    PENDING = "pending"
    WAITING = "waiting"
    QUEUED = "queued"
    GATED = "gated"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        AgentStatus.SUCCEEDED,
        AgentStatus.FAILED,
        AgentStatus.TIMED_OUT,
        AgentStatus.CANCELLED,
        AgentStatus.BLOCKED,
        AgentStatus.SKIPPED,
    }
)

# Which event a transition into each state emits (one event per state change).
STATE_EVENT: dict[AgentStatus, EventType] = {
    AgentStatus.WAITING: EventType.AGENT_WAITING,
    AgentStatus.QUEUED: EventType.AGENT_QUEUED,
    AgentStatus.GATED: EventType.AGENT_GATED,
    AgentStatus.RUNNING: EventType.AGENT_STARTED,
    **{status: EventType.AGENT_FINISHED for status in TERMINAL_STATUSES},
}


def utc_timestamp(moment: datetime | None = None) -> str:
    """Wall clock, UTC, millisecond precision: ``2026-11-27T20:54:04.123Z``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class Event(BaseModel):
    """One row of the append-only event log."""

    model_config = ConfigDict(extra="forbid")

    id: int
    run_id: str
    type: str
    actor: str | None = None
    action: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp: str


def output_lines(event: Event) -> list[str]:
    """The lines of an ``agent_output`` event: a burst of output is one event with ``lines``."""
    lines = event.metadata.get("lines")
    if isinstance(lines, list):
        return [str(line) for line in lines]
    line = event.metadata.get("line")
    return [] if line is None else [str(line)]


# -- per-type payloads (an event's ``metadata``) -----------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")

    def metadata(self) -> dict[str, Any]:
        """As event metadata: the fields that were set (an explicit None stays)."""
        return self.model_dump(exclude_unset=True)


class FindingRange(BaseModel):
    """0-based, ``end_col`` exclusive (an LSP range)."""

    line: int = 0
    col: int = 0
    end_line: int | None = None
    end_col: int = 10_000


class FindingPayload(_Payload):
    """``finding``: one problem a check reported (actor: the check's name)."""

    check: str
    key: str
    severity: Literal["error", "warning", "info"] = "error"
    message: str = ""
    path: str | None = None
    """As the tool printed it (relative to the check's folder), None without a location."""
    line: int | None = None
    """1-based, as the tool printed it."""
    col: int | None = None
    end_line: int | None = None
    end_col: int | None = None
    rule: str | None = None
    detail: str | None = None
    abs_path: str | None = None
    """Where it is shown: the file, or the spec (on the check's line) when it has no location."""
    range: FindingRange = Field(default_factory=FindingRange)
    builtin: bool = False
    """A built-in integration finding (no check run replaces it; a new run does)."""


class AgentWaitingPayload(_Payload):
    """``agent_waiting``: what it waits on (agents by bare name)."""

    waiting_on: list[str] = Field(default_factory=list)


class AgentQueuedPayload(_Payload):
    """``agent_queued``: the slots when it was queued."""

    running: int
    max_parallel: int


class AgentStartedPayload(_Payload):
    """``agent_started``: its attempt (1 first) and runner."""

    attempt: int
    runner: str
    node: str | None = None
    """``executor: ray``: the node it runs on (its address); absent: in the run's own process."""
    node_id: str | None = None


class AgentFinishedPayload(_Payload):
    """``agent_finished`` (action: the terminal state)."""

    duration_s: float | None = None
    error: str | None = None
    attempts: int | None = None
    unmet: list[str] | None = None
    """Blocked: the needs that can no longer be met."""


class LineSpan(BaseModel):
    """Lines of one side of a conflict, 1-based and inclusive, in that side's version of the file."""

    start: int
    end: int


class ConflictSide(BaseModel):
    """One side of a conflict: whose work (an agent, or ``integration`` for the merged work so
    far), at which commit, and the lines of the file it changed that clash with the other side."""

    agent: str
    commit: str | None = None
    lines: list[LineSpan] = Field(default_factory=list)


class ConflictFile(BaseModel):
    path: str
    """Relative to the repository's top folder, with ``/``."""
    kind: str = "content"
    """content, add/add, modify/delete, rename, binary, or what git said."""
    sides: list[ConflictSide] = Field(default_factory=list)


class ConflictPayload(_Payload):
    """``merge_conflict`` and ``conflict_predicted`` (actor: the agent whose work is merged or
    checked). ``key`` names the pair so a later ``conflict_cleared`` can refer to it."""

    key: str
    agents: list[str]
    """The two sides: the actor first, then the other agent (or ``integration``)."""
    files: list[ConflictFile] = Field(default_factory=list)
    message: str = ""


class WorkingCopyPayload(_Payload):
    """``working_copy_created``: where an isolated agent works and what it starts from."""

    path: str
    branch: str
    start_commit: str
    method: str
    """``overlay`` (copy-on-write over a shared checkout) or ``worktree`` (a full git worktree)."""
    seconds: float | None = None
    signals: list[str] = Field(default_factory=list)
    """The signals whose snapshots the start commit contains."""
    node: str | None = None
    """``executor: ray``: the node the copy is on (``path`` is a path there)."""


class AgentMovedPayload(_Payload):
    """``agent_moved``: where the agent starts again, and why."""

    node: str
    """The node it starts again on."""
    from_node: str
    reason: str
    """Why it left ``from_node`` (the node died, the actor was lost...)."""
    moves: int = 1
    """How often it has moved in this attempt (bounded: then it fails)."""
    start_commit: str | None = None
    """What it starts from: its last snapshot handed on, else where it started."""


class MergePayload(_Payload):
    """``agent_merged``: the agent's branch in the integration branch."""

    commit: str
    """The integration branch's new tip."""
    branch: str
    files: int = 0
    added: int = 0
    removed: int = 0
    order: int = 0
    """1 for the first agent merged in this run, 2 for the next..."""


class PlanPrediction(BaseModel):
    """What the director predicts for its spec, from its per-agent estimates and the spec's
    dependency graph (see docs/director.md)."""

    estimates: dict[str, float] = Field(default_factory=dict)
    """Agent -> minutes of work the director expects (``defaulted`` ones: the default)."""
    defaulted: list[str] = Field(default_factory=list)
    """Agents the director gave no estimate for."""
    critical_path: list[str] = Field(default_factory=list)
    """The chain of agents that decides the end, first to last (with no cap on parallelism)."""
    critical_path_minutes: float = 0.0
    sequential_minutes: float = 0.0
    """The same agents one after another."""
    predicted_minutes: float = 0.0
    """With the spec's ``max_parallel`` (the critical path's length when there is no cap)."""
    max_parallel: int | None = None
    speedup: float = 1.0
    """``sequential_minutes / predicted_minutes``."""


class PlanStartedPayload(_Payload):
    """``plan_started``: the request, the model, where the spec will be written."""

    request: str
    model: str
    spec: str
    """The spec's path (absolute)."""
    context: list[str] = Field(default_factory=list)
    """The shared context files the director read."""
    max_rounds: int = 0
    """Drafts checked at most (the first one and its repairs)."""


class PlanDraftPayload(_Payload):
    """``plan_draft``: one draft checked as ``counterpoint check`` checks it."""

    round: int
    errors: int = 0
    warnings: int = 0
    findings: list[str] = Field(default_factory=list)
    """The findings as ``counterpoint check`` prints them (what the director gets to repair)."""


class PlanFinishedPayload(_Payload):
    """``plan_finished``: the outcome, tokens, cost and rounds (drafts checked)."""

    spec: str | None = None
    """The spec written (None when nothing was)."""
    ok: bool = False
    """The spec passes ``counterpoint check`` (no errors)."""
    rounds: int = 0
    errors: int = 0
    warnings: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float | None = None
    error: str | None = None
    prediction: PlanPrediction | None = None


EVENT_PAYLOADS: dict[EventType, type[BaseModel]] = {
    EventType.FINDING: FindingPayload,
    EventType.MERGE_CONFLICT: ConflictPayload,
    EventType.CONFLICT_PREDICTED: ConflictPayload,
    EventType.WORKING_COPY_CREATED: WorkingCopyPayload,
    EventType.AGENT_MERGED: MergePayload,
    EventType.AGENT_WAITING: AgentWaitingPayload,
    EventType.AGENT_QUEUED: AgentQueuedPayload,
    EventType.AGENT_STARTED: AgentStartedPayload,
    EventType.AGENT_FINISHED: AgentFinishedPayload,
    EventType.AGENT_MOVED: AgentMovedPayload,
    EventType.PLAN_STARTED: PlanStartedPayload,
    EventType.PLAN_DRAFT: PlanDraftPayload,
    EventType.PLAN_FINISHED: PlanFinishedPayload,
}
"""The typed ``metadata`` of these event types (others: a free dict)."""

"""The run report, built from the event log alone (so any past run can be reported again).

Per agent start, end, duration and status; wall time; busy time (the time
agents actually ran: each running stint from its ``agent_active``, the moment the
agent's process was started, to its end); the critical path (the chain of
agents that released each other up to the last finish);
achieved parallelism = busy / wall; shared context loaded once vs per agent;
signals with the agents they released; findings of checks; LLM usage.

One pass over the events, which are never all in memory: `build_report` takes any iterable
(`log_pages` reads the log a page at a time), and what it keeps grows with the agents, the
signals, the findings and the distinct paths written, not with the number of events.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from counterpoint_protocol.events import Event, EventType, parse_timestamp

from counterpoint.engine.report.chain import AgentRow, critical_path, signal_source
from counterpoint.engine.report.isolation import EVENTS as ISOLATION_EVENTS
from counterpoint.engine.report.isolation import IsolationSection
from counterpoint.engine.report.markdown import render_markdown

__all__ = ["PAGE", "ReportBuilder", "build_report", "log_pages", "render_markdown"]
T = EventType
PAGE = 2_000
"""Events read from the log at a time while building a report."""


def log_pages(fetch: Callable[[int, int], list[Event]], page: int = PAGE) -> Iterator[Event]:
    """Every event ``fetch(after_id, limit)`` returns, a page at a time, in id order."""
    after = 0
    while True:
        events = fetch(after, page)
        yield from events
        if len(events) < page:
            return
        after = events[-1].id


def build_report(events: Iterable[Event]) -> dict[str, Any]:
    """The report of one run from its events (in id order), in one pass."""
    builder = ReportBuilder()
    for event in events:
        builder.add(event)
    return builder.report()


class _Busy:
    """Busy time per agent: each running stint, from the mark that opened it to its end."""

    def __init__(self) -> None:
        self.running: dict[str, float] = {}
        self.busy: dict[str, float] = {}

    def close(self, name: str, now: float) -> None:
        if name in self.running:
            self.busy[name] = self.busy.get(name, 0.0) + max(0.0, now - self.running.pop(name))

    def close_all(self, now: float) -> None:
        for name in list(self.running):
            self.close(name, now)


class _Writes:
    """Who wrote each path: one interned name a path (a set only for a path with several writers),
    and the last writer of each path, most recently written last."""

    def __init__(self) -> None:
        self.writers: dict[str, str | set[str]] = {}
        self.last: dict[str, str] = {}

    def add(self, path: str, actor: str) -> None:
        actor = sys.intern(actor)
        known = self.writers.get(path)
        if known is None:
            self.writers[path] = actor
        elif isinstance(known, set):
            known.add(actor)
        elif known != actor:
            self.writers[path] = {known, actor}
        self.last.pop(path, None)  # keeps the last write last in the order
        self.last[path] = actor

    def shared(self, integrators: set[str]) -> dict[str, list[str]]:
        return {
            path: sorted(who)
            for path, who in self.writers.items()
            if isinstance(who, set) and len(who - integrators) > 1
        }


class ReportBuilder:
    """Takes a run's events one at a time (`add`, in id order); `report` gives the report."""

    def __init__(self) -> None:
        self.count = 0
        self.first: Event | None = None
        self.started: Event | None = None
        self.last_segment: Event | None = None
        """The last run_started / run_resumed / run_finished: the run's status is its last segment's."""
        self.agents: dict[str, AgentRow] = {}
        self.signals: list[dict[str, Any]] = []
        self.fired: dict[str, float] = {}
        self.context: dict[str, Any] = {}
        self.findings: list[dict[str, Any]] = []
        self.checks: dict[str, dict[str, Any]] = {}
        self.usage: dict[str, dict[str, Any]] = {}
        self.writes = _Writes()
        self.notices: list[str] = []
        self.issues: dict[str, dict[str, Any]] = {}
        self.last_keys: dict[str, tuple[float, set[str]]] = {}
        self.by_active = _Busy()
        """Stints from ``agent_active`` (used when the log has that event)."""
        self.by_started = _Busy()
        """Stints from ``agent_started`` (a log older than ``agent_active``)."""
        self.seen_active = False
        self.t0 = 0.0
        self.paused = 0.0
        """Time the run was not running so far (the gaps before each resume)."""
        self.previous_ts: float | None = None
        self.now = 0.0
        """Seconds since the run started of the latest event, not counting the pauses."""
        self.wall = 0.0
        """Wall time of the segments already closed."""
        self.segment_first = 0.0
        self.segment_end: Event | None = None
        self.isolation = IsolationSection()

    def add(self, event: Event) -> None:
        ts = parse_timestamp(event.timestamp).timestamp()
        kind = event.type
        if self.first is None:
            self.first = event
            self.t0 = ts
        elif kind in (T.RUN_STARTED, T.RUN_RESUMED):
            self._close_segment()
        previous_at = self.now
        if kind == T.RUN_RESUMED and self.previous_ts is not None:
            self.paused += max(0.0, ts - self.previous_ts)
        self.previous_ts = ts
        at = self.now = round(ts - self.t0 - self.paused, 3)
        if self.count == 0 or kind in (T.RUN_STARTED, T.RUN_RESUMED):
            self.segment_first = at
            self.segment_end = None
        self.count += 1
        if kind == T.RUN_RESUMED and self.count > 1:
            # The segment before was killed: its running agents ran until its last event.
            self.by_active.close_all(previous_at)
            self.by_started.close_all(previous_at)
        if kind in (T.RUN_STARTED, T.RUN_RESUMED, T.RUN_FINISHED):
            self.last_segment = event
        if kind == T.RUN_FINISHED:
            self.segment_end = event
        if kind == T.RUN_STARTED and self.started is None:
            self.started = event
            self._seed(event)
        if kind in ISOLATION_EVENTS:
            self.isolation.add(event, at)
            return
        actor = event.actor
        if actor and kind.startswith("agent_"):
            self._agent_event(event, self.agents.setdefault(actor, AgentRow(actor)), at)
        elif kind == T.SIGNAL and event.action:
            if event.action not in self.fired:
                self.fired[event.action] = at
                self.signals.append(
                    {
                        "name": event.action,
                        "at_s": at,
                        "actor": actor,
                        **signal_source(event, self.writes.last),
                        "metadata": event.metadata,
                        "released": [],
                    }
                )
        elif kind == T.FILE_WRITTEN:
            if actor and event.action:
                self.writes.add(event.action, actor)
        elif kind == T.CONTEXT_LOADED:
            self.context = dict(event.metadata)
        elif kind == T.FINDING:
            self.findings.append({"at_s": at, "check": actor, **event.metadata})
            self._issue(event, at)
        elif kind == T.CHECK_FINISHED and actor:
            entry = self.checks.setdefault(actor, {"runs": 0})
            entry["runs"] += 1
            entry.update({k: v for k, v in event.metadata.items() if k not in ("output", "keys")})
            entry["status"] = event.action
            entry["last_at_s"] = at
            self.last_keys[actor] = (at, {str(k) for k in event.metadata.get("keys", [])})
        elif kind == T.USAGE and actor:
            totals = self.usage.setdefault(actor, {})
            for key, value in event.metadata.items():
                if isinstance(value, int | float):
                    totals[key] = round(totals.get(key, 0) + value, 6)
        elif kind == T.NOTICE and event.action:
            self.notices.append(event.action)

    def _agent_event(self, event: Event, row: AgentRow, at: float) -> None:
        kind = event.type
        if kind == T.AGENT_WAITING:
            row.status = "waiting"
            row.waiting_on = list(event.metadata.get("waiting_on", []))
            row.first_wait = row.first_wait if row.first_wait is not None else at
        elif kind == T.AGENT_STARTED:
            row.status = "running"
            row.start = at
            row.end = None
            row.attempts = int(event.metadata.get("attempt", row.attempts + 1))
            row.runner = event.metadata.get("runner")
            for busy in (self.by_active, self.by_started):
                busy.busy.setdefault(row.name, 0.0)
                busy.running.pop(row.name, None)
            self.by_started.running[row.name] = at
        elif kind == T.AGENT_ACTIVE:
            self.seen_active = True
            if row.status == "running" and row.name not in self.by_active.running:
                self.by_active.running[row.name] = at
        elif kind == T.AGENT_FINISHED:
            row.status = event.action or "failed"
            row.end = at
            row.error = event.metadata.get("error")
            if row.start is None:
                row.start = row.end
            self.by_active.close(row.name, at)
            self.by_started.close(row.name, at)

    def _seed(self, started: Event) -> None:
        """The run's agents first, in the spec's order, then any other actor seen."""
        rows = {name: self.agents.get(name) or AgentRow(name) for name in started.metadata.get("agents", [])}
        for name, row in self.agents.items():
            rows.setdefault(name, row)
        self.agents = rows

    def _close_segment(self) -> None:
        end = self.segment_end
        if end is not None and "wall_s" in end.metadata:
            self.wall += float(end.metadata["wall_s"])
        else:
            self.wall += self.now - self.segment_first

    def _issue(self, event: Event, at: float) -> None:
        """Every distinct finding, when it was first found."""
        key = str(event.metadata.get("key") or event.action)
        if key in self.issues:
            return
        self.issues[key] = {
            "key": key,
            "check": event.actor,
            "message": event.metadata.get("message"),
            "path": event.metadata.get("path"),
            "line": event.metadata.get("line"),
            "severity": event.metadata.get("severity"),
            "found_at_s": at,
            "early": False,
            "fixed": False,
            "fixed_at_s": None,
            "builtin": bool(event.metadata.get("builtin")),
        }

    def report(self) -> dict[str, Any]:
        if self.first is None:
            raise ValueError("no events for this run")
        if self.started is None:
            self._seed(self.first)
        started = self.started or self.first
        finished = (
            self.last_segment
            if self.last_segment is not None and self.last_segment.type == T.RUN_FINISHED
            else None
        )
        agents = self.agents
        self._release(agents)
        self._close_segment()
        wall = self.wall
        integrators = set(started.metadata.get("integrators", []))
        builders_end = max(
            (r.end for r in agents.values() if r.end is not None and r.name not in integrators),
            default=None,
        )
        tracker = self.by_active if self.seen_active else self.by_started
        tracker.close_all(self.now)  # still running when the log ends (a run killed and not resumed)
        busy = tracker.busy
        busy_total = sum(busy.values())
        return {
            "run_id": self.first.run_id,
            "spec": started.metadata.get("spec"),
            "feature": started.action,
            "status": finished.action if finished else "interrupted",
            "started_at": started.timestamp,
            "finished_at": finished.timestamp if finished else None,
            "wall_s": round(wall, 3),
            "busy_s": round(busy_total, 3),
            "parallelism": round(busy_total / wall, 2) if wall > 0 else 0.0,
            "max_parallel": started.metadata.get("max_parallel"),
            "critical_path": critical_path(agents, self.signals),
            "agents": [
                {
                    "name": r.name,
                    "status": r.status,
                    "runner": r.runner,
                    "start_s": r.start,
                    "end_s": r.end,
                    "duration_s": round(r.end - r.start, 3)
                    if r.start is not None and r.end is not None
                    else None,
                    "busy_s": round(busy[r.name], 3) if r.name in busy else None,
                    "attempts": r.attempts,
                    "error": r.error,
                    "needs": r.waiting_on or [],
                    "wait_start_s": r.first_wait,
                    "released_by": r.released_by,
                }
                for r in agents.values()
            ],
            "signals": self.signals,
            "context": self.context,
            "checks": self.checks,
            "findings": self.findings,
            "usage": self.usage,
            "shared_writes": self.writes.shared(integrators),
            "integration": self._integration(builders_end),
            "notices": self.notices,
            "isolation": self.isolation.section(),
            "events": self.count,
        }

    def _release(self, agents: dict[str, AgentRow]) -> None:
        """Which signal (or agent) released each agent: the need met last before it started."""
        agent_end = {r.name: r.end for r in agents.values() if r.status == "succeeded" and r.end is not None}
        # ``agent:<name>`` (an integrator's needs): that agent ended, whatever its status.
        any_end = {f"agent:{r.name}": (r.end, r.name) for r in agents.values() if r.end is not None}
        for row in agents.values():
            if row.start is None or not row.waiting_on:
                continue
            times = []
            for need in row.waiting_on:
                if need in self.fired:
                    times.append((self.fired[need], need))
                elif need in agent_end and agent_end[need] is not None:
                    times.append((agent_end[need], need))
                elif need in any_end:
                    times.append(any_end[need])
            if times:
                row.released_by = max(times)[1]
                for signal in self.signals:
                    if signal["name"] == row.released_by:
                        signal["released"].append(row.name)

    def _integration(self, builders_end: float | None) -> dict[str, Any]:
        """Every distinct finding: whether it was found before the last (non-integrator) agent
        finished, and whether a later run of its check no longer had it."""
        for issue in self.issues.values():
            issue["early"] = builders_end is not None and issue["found_at_s"] < builders_end
            latest = self.last_keys.get(str(issue["check"]))
            if latest is not None and issue["key"] not in latest[1] and latest[0] >= issue["found_at_s"]:
                issue["fixed"] = True
                issue["fixed_at_s"] = latest[0]
        found = list(self.issues.values())
        return {
            "found": len(found),
            "early": sum(1 for i in found if i["early"]),
            "fixed": sum(1 for i in found if i["fixed"]),
            "open": sum(1 for i in found if not i["fixed"]),
            "builders_finished_at_s": builders_end,
            "issues": found,
        }

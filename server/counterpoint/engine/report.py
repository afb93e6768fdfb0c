"""The run report, built from the event log alone (so any past run can be reported again).

Per agent start, end, duration and status; wall time; busy time (the time
agents actually ran: each running stint from its ``agent_active``, the moment the
agent's process was started, to its end); the critical path (the chain of
agents that released each other up to the last finish);
achieved parallelism = busy / wall; shared context loaded once vs per agent;
signals with the agents they released; findings of checks; LLM usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from counterpoint_protocol.events import Event, EventType, parse_timestamp

T = EventType


@dataclass
class _AgentRow:
    name: str
    status: str = "pending"
    start: float | None = None
    end: float | None = None
    attempts: int = 0
    error: str | None = None
    released_by: str | None = None
    waiting_on: list[str] | None = None
    runner: str | None = None
    first_wait: float | None = None


def build_report(events: list[Event]) -> dict[str, Any]:
    """The report of one run from its events (in id order)."""
    if not events:
        raise ValueError("no events for this run")
    run_id = events[0].run_id
    t0 = parse_timestamp(events[0].timestamp).timestamp()
    paused = paused_before(events)

    def at(event: Event) -> float:
        """Seconds since the run started, not counting the pauses between a kill and a resume."""
        return round(parse_timestamp(event.timestamp).timestamp() - t0 - paused.get(event.id, 0.0), 3)

    started = next((e for e in events if e.type == T.RUN_STARTED), events[0])
    # The run's status is its last segment's: a resume that was killed leaves it interrupted.
    last = next(
        (e for e in reversed(events) if e.type in (T.RUN_FINISHED, T.RUN_STARTED, T.RUN_RESUMED)), None
    )
    finished = last if last is not None and last.type == T.RUN_FINISHED else None
    agents: dict[str, _AgentRow] = {name: _AgentRow(name) for name in started.metadata.get("agents", [])}
    signals: list[dict[str, Any]] = []
    fired: dict[str, float] = {}
    context: dict[str, Any] = {}
    findings: list[dict[str, Any]] = []
    checks: dict[str, dict[str, Any]] = {}
    usage: dict[str, dict[str, Any]] = {}
    writes: dict[str, set[str]] = {}
    last_writer: dict[str, str] = {}
    notices: list[str] = []
    running: dict[str, float] = {}
    """Agent -> when its work in the current running stint began (closed by its end or the
    segment's): its ``agent_active``, or its ``agent_started`` in a log older than that event."""
    busy: dict[str, float] = {}
    marks_active = any(e.type == T.AGENT_ACTIVE for e in events)
    previous: Event | None = None
    for event in events:
        actor = event.actor
        if event.type == T.RUN_RESUMED and previous is not None:
            # The segment before was killed: its running agents ran until its last event.
            for name, since in running.items():
                busy[name] = busy.get(name, 0.0) + max(0.0, at(previous) - since)
            running.clear()
        previous = event
        row = (
            agents.setdefault(actor, _AgentRow(actor)) if actor and event.type.startswith("agent_") else None
        )
        if event.type == T.AGENT_WAITING and row is not None:
            row.status = "waiting"
            row.waiting_on = list(event.metadata.get("waiting_on", []))
            row.first_wait = row.first_wait if row.first_wait is not None else at(event)
        elif event.type == T.AGENT_STARTED and row is not None:
            row.status = "running"
            row.start = at(event)
            row.end = None
            row.attempts = int(event.metadata.get("attempt", row.attempts + 1))
            row.runner = event.metadata.get("runner")
            busy.setdefault(row.name, 0.0)
            running.pop(row.name, None)
            if not marks_active:
                running[row.name] = at(event)
        elif event.type == T.AGENT_ACTIVE and row is not None:
            if row.status == "running" and row.name not in running:
                running[row.name] = at(event)
        elif event.type == T.AGENT_FINISHED and row is not None:
            row.status = event.action or "failed"
            row.end = at(event)
            row.error = event.metadata.get("error")
            if row.start is None:
                row.start = row.end
            if row.name in running:
                busy[row.name] = busy.get(row.name, 0.0) + max(0.0, row.end - running.pop(row.name))
        elif event.type == T.SIGNAL and event.action:
            if event.action not in fired:
                fired[event.action] = at(event)
                signals.append(
                    {
                        "name": event.action,
                        "at_s": at(event),
                        "actor": actor,
                        **signal_source(event, last_writer),
                        "metadata": event.metadata,
                        "released": [],
                    }
                )
        elif event.type == T.CONTEXT_LOADED:
            context = dict(event.metadata)
        elif event.type == T.FINDING:
            findings.append({"at_s": at(event), "check": actor, **event.metadata})
        elif event.type == T.CHECK_FINISHED and actor:
            entry = checks.setdefault(actor, {"runs": 0})
            entry["runs"] += 1
            entry.update({k: v for k, v in event.metadata.items() if k not in ("output", "keys")})
            entry["status"] = event.action
            entry["last_at_s"] = at(event)
        elif event.type == T.USAGE and actor:
            totals = usage.setdefault(actor, {})
            for key, value in event.metadata.items():
                if isinstance(value, int | float):
                    totals[key] = round(totals.get(key, 0) + value, 6)
        elif event.type == T.FILE_WRITTEN and actor and event.action:
            writes.setdefault(event.action, set()).add(actor)
            last_writer.pop(event.action, None)  # keeps the last write last in the order
            last_writer[event.action] = actor
        elif event.type == T.NOTICE and event.action:
            notices.append(event.action)

    # Which signal (or agent) released each agent: the need met last before it started.
    agent_end = {r.name: r.end for r in agents.values() if r.status == "succeeded" and r.end is not None}
    # ``agent:<name>`` (an integrator's needs): that agent ended, whatever its status.
    any_end = {f"agent:{r.name}": (r.end, r.name) for r in agents.values() if r.end is not None}
    for row in agents.values():
        if row.start is None or not row.waiting_on:
            continue
        times = []
        for need in row.waiting_on:
            if need in fired:
                times.append((fired[need], need))
            elif need in agent_end and agent_end[need] is not None:
                times.append((agent_end[need], need))
            elif need in any_end:
                times.append(any_end[need])
        if times:
            row.released_by = max(times)[1]
            for signal in signals:
                if signal["name"] == row.released_by:
                    signal["released"].append(row.name)

    wall = run_wall(events, at)
    integrators = set(started.metadata.get("integrators", []))
    builders_end = max(
        (r.end for r in agents.values() if r.end is not None and r.name not in integrators),
        default=None,
    )
    integration = integration_issues(events, at, builders_end)
    if events and running:  # still running when the log ends (a run killed and not resumed)
        for name, since in running.items():
            busy[name] = busy.get(name, 0.0) + max(0.0, at(events[-1]) - since)
    busy_total = sum(busy.values())
    critical = critical_path(agents, signals)
    report: dict[str, Any] = {
        "run_id": run_id,
        "spec": started.metadata.get("spec"),
        "feature": started.action,
        "status": finished.action if finished else "interrupted",
        "started_at": started.timestamp,
        "finished_at": finished.timestamp if finished else None,
        "wall_s": round(wall, 3),
        "busy_s": round(busy_total, 3),
        "parallelism": round(busy_total / wall, 2) if wall > 0 else 0.0,
        "max_parallel": started.metadata.get("max_parallel"),
        "critical_path": critical,
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
        "signals": signals,
        "context": context,
        "checks": checks,
        "findings": findings,
        "usage": usage,
        "shared_writes": {path: sorted(who) for path, who in writes.items() if len(who - integrators) > 1},
        "integration": integration,
        "notices": notices,
        "events": len(events),
    }
    return report


def paused_before(events: list[Event]) -> dict[int, float]:
    """Event id -> the time the run was not running before it (the gaps before each resume)."""
    out: dict[int, float] = {}
    total = 0.0
    previous: float | None = None
    for event in events:
        now = parse_timestamp(event.timestamp).timestamp()
        if event.type == T.RUN_RESUMED and previous is not None:
            total += max(0.0, now - previous)
        out[event.id] = total
        previous = now
    return out


def run_wall(events: list[Event], at: Any) -> float:
    """Wall time of the whole run: the sum of its segments (the first start and every resume, each
    up to its ``run_finished`` or, for a segment that was killed, its last event); the time
    between a kill and the resume is not counted."""
    starts = [i for i, e in enumerate(events) if e.type in (T.RUN_STARTED, T.RUN_RESUMED)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    total = 0.0
    for n, first in enumerate(starts):
        segment = events[first : starts[n + 1] if n + 1 < len(starts) else len(events)]
        end = next((e for e in reversed(segment) if e.type == T.RUN_FINISHED), None)
        if end is not None and "wall_s" in end.metadata:
            total += float(end.metadata["wall_s"])
        else:
            total += at(segment[-1]) - at(segment[0])
    return total


def integration_issues(events: list[Event], at: Any, builders_end: float | None) -> dict[str, Any]:
    """Every distinct finding: when it was first found, whether that was before the last
    (non-integrator) agent finished, and whether a later run of its check no longer had it."""
    issues: dict[str, dict[str, Any]] = {}
    last_keys: dict[str, tuple[float, set[str]]] = {}
    for event in events:
        if event.type == T.FINDING:
            key = str(event.metadata.get("key") or event.action)
            if key not in issues:
                found = at(event)
                issues[key] = {
                    "key": key,
                    "check": event.actor,
                    "message": event.metadata.get("message"),
                    "path": event.metadata.get("path"),
                    "line": event.metadata.get("line"),
                    "severity": event.metadata.get("severity"),
                    "found_at_s": found,
                    "early": builders_end is not None and found < builders_end,
                    "fixed": False,
                    "fixed_at_s": None,
                    "builtin": bool(event.metadata.get("builtin")),
                }
        elif event.type == T.CHECK_FINISHED and event.actor:
            last_keys[event.actor] = (at(event), {str(k) for k in event.metadata.get("keys", [])})
    for issue in issues.values():
        latest = last_keys.get(str(issue["check"]))
        if latest is not None and issue["key"] not in latest[1] and latest[0] >= issue["found_at_s"]:
            issue["fixed"] = True
            issue["fixed_at_s"] = latest[0]
    found = list(issues.values())
    return {
        "found": len(found),
        "early": sum(1 for i in found if i["early"]),
        "fixed": sum(1 for i in found if i["fixed"]),
        "open": sum(1 for i in found if not i["fixed"]),
        "builders_finished_at_s": builders_end,
        "issues": found,
    }


def signal_source(event: Event, last_writer: dict[str, str]) -> dict[str, Any]:
    """``by`` (the agent a signal comes from) and how that is known: ``agent`` (it fired it),
    ``write``/``emits``/``unknown`` for a file signal (the run's own attribution; for an older log
    without one, the agent whose ``file_written`` of that path came last before it)."""
    if event.actor:
        return {"by": event.actor, "attribution": "agent"}
    meta = event.metadata
    if isinstance(meta.get("by"), str):
        return {"by": meta["by"], "attribution": str(meta.get("attribution") or "write")}
    if "attribution" in meta:
        return {"by": None, "attribution": str(meta["attribution"])}
    path = meta.get("path")
    if isinstance(path, str):
        if path in last_writer:
            return {"by": last_writer[path], "attribution": "write"}
        # Written paths are relative to the spec's folder, the signal's to the workspace root.
        for written in reversed(last_writer):
            if path.endswith("/" + written):
                return {"by": last_writer[written], "attribution": "write"}
    return {"by": None, "attribution": "unknown"}


def critical_path(agents: dict[str, _AgentRow], signals: list[dict[str, Any]]) -> dict[str, Any]:
    """Walk back from the last agent to finish along what released each agent (through a file
    signal, to the agent it is attributed to)."""
    finished = [r for r in agents.values() if r.end is not None and r.start is not None]
    if not finished:
        return {"agents": [], "length_s": 0.0}
    emitter = {s["name"]: s.get("by") or s.get("actor") for s in signals}
    chain: list[str] = []
    row: _AgentRow | None = max(finished, key=lambda r: r.end or 0)
    seen: set[str] = set()
    while row is not None and row.name not in seen:
        seen.add(row.name)
        chain.append(row.name)
        need = row.released_by
        if need is None:
            break
        source = need if need in agents else emitter.get(need)
        row = agents.get(source) if source else None
    chain.reverse()
    first, last = agents[chain[0]], agents[chain[-1]]
    length = (last.end or 0) - (first.start or 0)
    return {"agents": chain, "length_s": round(length, 3)}


def _usage_row(name: str, u: dict[str, Any]) -> str:
    inp = int(u.get("input_tokens", 0))
    cached = int(u.get("cache_read_tokens", 0))
    share = f"{100 * cached / inp:.0f}%" if inp else "-"
    return (
        f"| {name} | {inp} | {cached} ({share}) | {int(u.get('output_tokens', 0))} | "
        f"{int(u.get('requests', 0))} | ${float(u.get('cost_usd', 0)):.4f} |"
    )


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (also what the CLI prints)."""
    lines = [
        f"# Run {report['run_id']}: {report.get('feature') or report.get('spec')}",
        "",
        f"**{report['status']}** in {report['wall_s']:.2f} s wall; busy {report['busy_s']:.2f} s; "
        f"parallelism {report['parallelism']:.2f}x (busy / wall).",
        "",
        "| agent | status | start | end | duration | released by |",
        "|---|---|---:|---:|---:|---|",
    ]
    for agent in report["agents"]:

        def fmt(value: float | None) -> str:
            return f"{value:.2f}s" if value is not None else "-"

        status = agent["status"] + (f" ({agent['error']})" if agent.get("error") else "")
        lines.append(
            f"| {agent['name']} | {status} | {fmt(agent['start_s'])} | {fmt(agent['end_s'])} | "
            f"{fmt(agent['duration_s'])} | {agent.get('released_by') or '-'} |"
        )
    crit = report["critical_path"]
    lines += [
        "",
        f"Critical path: {' -> '.join(crit['agents']) or '-'} ({crit['length_s']:.2f} s).",
    ]
    if report["signals"]:
        lines += [
            "",
            "Signals: "
            + ", ".join(
                f"{s['name']} at {s['at_s']:.2f}s"
                + (f" (by {s['actor']})" if s.get("actor") else "")
                + (f" (file, from {s['by']})" if s.get("by") and not s.get("actor") else "")
                + (f" -> {', '.join(s['released'])}" if s["released"] else "")
                for s in report["signals"]
            )
            + ".",
        ]
    ctx = report.get("context") or {}
    if ctx:
        lines += [
            "",
            f"Shared context: {ctx.get('bytes_loaded', 0)} bytes (~{ctx.get('tokens_loaded', 0)} tokens) loaded once "
            f"for {ctx.get('agents', 0)} agents; loading it per agent would have cost {ctx.get('bytes_per_agent_load', 0)} "
            f"bytes (~{ctx.get('tokens_per_agent_load', 0)} tokens).",
        ]
    integration = report.get("integration") or {}
    if integration.get("found"):
        lines += [
            "",
            f"Integration issues: {integration['found']} found, {integration['early']} early (before the last "
            f"building agent finished at {integration['builders_finished_at_s'] or 0:.2f}s), "
            f"{integration['fixed']} fixed, {integration['open']} open.",
            "",
        ]
        for issue in integration["issues"]:
            where = f"{issue['path']}:{issue['line']}" if issue.get("line") else (issue.get("path") or "")
            state = f"fixed at {issue['fixed_at_s']:.2f}s" if issue["fixed"] else "open"
            early = "early" if issue["early"] else "late"
            lines.append(
                f"- [{issue['check']}] {where}: {issue['message']} (found at {issue['found_at_s']:.2f}s, {early}; {state})"
            )
    usage = report.get("usage") or {}
    if usage:
        lines += [
            "",
            "| agent | input tokens | cached | output tokens | requests | cost |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        totals: dict[str, float] = {}
        for agent, u in usage.items():
            for key, value in u.items():
                totals[key] = totals.get(key, 0) + value
            lines.append(_usage_row(agent, u))
        lines.append(_usage_row("**total**", totals))
    if report.get("shared_writes"):
        lines += [
            "",
            "Files written by more than one agent: "
            + "; ".join(f"{p} ({', '.join(w)})" for p, w in report["shared_writes"].items()),
        ]
    return "\n".join(lines) + "\n"

"""Who released whom in a report: the agent a signal comes from, and the critical path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from counterpoint_protocol.events import Event


@dataclass
class AgentRow:
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


def critical_path(agents: dict[str, AgentRow], signals: list[dict[str, Any]]) -> dict[str, Any]:
    """Walk back from the last agent to finish along what released each agent (through a file
    signal, to the agent it is attributed to)."""
    finished = [r for r in agents.values() if r.end is not None and r.start is not None]
    if not finished:
        return {"agents": [], "length_s": 0.0}
    emitter = {s["name"]: s.get("by") or s.get("actor") for s in signals}
    chain: list[str] = []
    row: AgentRow | None = max(finished, key=lambda r: r.end or 0)
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

"""What the editor shows of live runs, read from their typed snapshots (`Run.status()`,
`Run.agent_status()`), never from the engine's live objects: progress text, lenses, inlay
hints, hover, command results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from counterpoint_protocol.messages import AgentStatusInfo
    from counterpoint_protocol.spec import Spec

    from counterpoint.engine.run import Run
    from counterpoint.lsp.core import CounterpointServer

# Plain strings: this module is imported before `initialize`, when pydantic (and so the
# protocol's `AgentStatus`) must not be loaded yet; `test_live_states_match_the_protocol` keeps them equal.
ENDED = frozenset({"succeeded", "failed", "timed_out", "cancelled"})
RERUNNABLE = frozenset({"failed", "timed_out", "cancelled", "blocked"})
TERMINAL = ENDED | {"blocked", "skipped"}


def runs_of(server: CounterpointServer, spec: Spec) -> list[Run]:
    """The runs of this spec that the open engines know of, the newest first."""
    runs = [run for run in server.all_runs() if run.spec.path == spec.path]
    return sorted(runs, key=lambda run: run.status().started_at or "", reverse=True)


def latest_run(server: CounterpointServer, spec: Spec) -> Run | None:
    runs = runs_of(server, spec)
    return runs[0] if runs else None


def is_live(run: Run) -> bool:
    return run.status().state in ("starting", "running")


def agent_names(run: Run) -> list[str]:
    return [agent.name for agent in run.status().agents]


def agent_state(run: Run, name: str) -> str | None:
    """The agent's state in this run (`pending`, `running`, `failed`...), None if not in it."""
    agent = run.agent_status(name)
    return agent.state if agent is not None else None


def _done(agents: list[AgentStatusInfo]) -> int:
    return sum(1 for agent in agents if agent.state in TERMINAL)


def done_count(run: Run) -> int:
    return _done(run.status().agents)


def run_progress(run: Run) -> tuple[str, int]:
    """The run's progress from one snapshot: a line (who runs, who waits on what, how many are
    done) and the percentage done."""
    agents = run.status().agents
    running = [a.name for a in agents if a.state == "running"]
    waiting = [f"{a.name} on {', '.join(a.waiting_on)}" for a in agents if a.state == "waiting"]
    parts = []
    if running:
        parts.append("running " + ", ".join(running))
    if waiting:
        parts.append("waiting: " + "; ".join(waiting))
    done = _done(agents)
    parts.append(f"{done}/{len(agents)} done")
    return " · ".join(parts), int(100 * done / (len(agents) or 1))


def agent_hint(run: Run, name: str) -> str | None:
    """The inlay hint after an agent's heading: its state, what it waits on, how long it took."""
    agent = run.agent_status(name)
    if agent is None:
        return None
    if agent.state == "waiting":
        return "waiting on " + ", ".join(agent.waiting_on)
    if agent.state == "running":
        return f"running {agent.duration_s or 0:.0f}s"
    if agent.duration_s is not None and agent.state in ENDED:
        return f"{agent.state} {agent.duration_s:.1f}s"
    return agent.state


def agent_line(server: CounterpointServer, spec: Spec, name: str) -> str | None:
    """The hover line of an agent's state in the newest run that has it."""
    for run in runs_of(server, spec):
        agent = run.agent_status(name)
        if agent is not None:
            duration = f" ({agent.duration_s:.1f}s)" if agent.duration_s is not None else ""
            return f"state in run `{run.run_id}`: **{agent.state}**{duration}"
    return None


def last_fired(server: CounterpointServer, spec: Spec, signal: str) -> str | None:
    """The hover line of when a signal last fired, and by whom, in the newest run where it did."""
    import time

    from counterpoint_protocol.events import parse_timestamp

    for run in runs_of(server, spec):
        status = run.status()
        if signal in status.signals:
            ago = time.time() - parse_timestamp(status.signals[signal]).timestamp()
            by = status.signal_by.get(signal)
            who = f" by `{by}`" if by else " by a file event"
            return f"fired {ago:.0f} s ago{who} in run `{run.run_id}`"
    return None

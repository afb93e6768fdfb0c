"""What the editor shows of live runs, read from the engine's `Run` objects: the one module that
reads `run.agents` (progress text, lenses, inlay hints, hover, command results).

When the engine offers a typed snapshot of a run, only this module changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from counterpoint_protocol.spec import Spec

    from counterpoint.engine.run import Run
    from counterpoint.lsp.core import CounterpointServer

ENDED = ("succeeded", "failed", "timed_out", "cancelled")
RERUNNABLE = ("failed", "timed_out", "cancelled", "blocked")


def runs_of(server: CounterpointServer, spec: Spec) -> list[Run]:
    """The runs of this spec that the open engines know of, the newest first."""
    runs = [run for run in server.all_runs() if run.spec.path == spec.path]
    return sorted(runs, key=lambda run: run.started_mono, reverse=True)


def latest_run(server: CounterpointServer, spec: Spec) -> Run | None:
    runs = runs_of(server, spec)
    return runs[0] if runs else None


def is_live(run: Run) -> bool:
    return run.state in ("starting", "running")


def agent_names(run: Run) -> list[str]:
    return list(run.agents)


def agent_state(run: Run, name: str) -> str | None:
    """The agent's state in this run (`pending`, `running`, `failed`...), None if not in it."""
    agent = run.agents.get(name)
    return agent.state.value if agent is not None else None


def done_count(run: Run) -> int:
    return sum(1 for agent in run.agents.values() if agent.terminal)


def run_percentage(run: Run) -> int:
    total = len(run.agents) or 1
    return int(100 * done_count(run) / total)


def _waiting_on(names: set[str]) -> str:
    return ", ".join(sorted(n.removeprefix("agent:") for n in names))


def run_summary(run: Run) -> str:
    """One line for the run's progress: who runs, who waits on what, how many are done."""
    running = [a.name for a in run.agents.values() if a.state.value == "running"]
    waiting = [
        f"{a.name} on {_waiting_on(a.waiting_on)}" for a in run.agents.values() if a.state.value == "waiting"
    ]
    parts = []
    if running:
        parts.append("running " + ", ".join(running))
    if waiting:
        parts.append("waiting: " + "; ".join(waiting))
    parts.append(f"{done_count(run)}/{len(run.agents)} done")
    return " · ".join(parts)


def agent_hint(run: Run, name: str) -> str | None:
    """The inlay hint after an agent's heading: its state, what it waits on, how long it took."""
    agent = run.agents.get(name)
    if agent is None:
        return None
    state = agent.state.value
    if state == "waiting":
        return "waiting on " + _waiting_on(agent.waiting_on)
    if state == "running":
        return f"running {agent.duration or 0:.0f}s"
    if agent.duration is not None and state in ENDED:
        return f"{state} {agent.duration:.1f}s"
    return state


def agent_line(server: CounterpointServer, spec: Spec, name: str) -> str | None:
    """The hover line of an agent's state in the newest run that has it."""
    for run in runs_of(server, spec):
        agent = run.agents.get(name)
        if agent is not None:
            duration = f" ({agent.duration:.1f}s)" if agent.duration is not None else ""
            return f"state in run `{run.run_id}`: **{agent.state.value}**{duration}"
    return None


def last_fired(server: CounterpointServer, spec: Spec, signal: str) -> str | None:
    """The hover line of when a signal last fired, and by whom, in the newest run where it did."""
    import time

    from counterpoint_protocol.events import parse_timestamp

    for run in runs_of(server, spec):
        if signal in run.signal_times:
            ago = time.time() - parse_timestamp(run.signal_times[signal]).timestamp()
            by = run.signal_actor.get(signal)
            who = f" by `{by}`" if by else " by a file event"
            return f"fired {ago:.0f} s ago{who} in run `{run.run_id}`"
    return None

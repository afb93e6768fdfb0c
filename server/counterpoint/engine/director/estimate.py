"""What a planned spec should take: its critical path and its speed-up over one agent at a time.

The director gives each agent an estimate (minutes of work) and, for a signal an agent emits
before its work ends, when it fires (minutes after that agent starts). `predict` plays the spec
the way the scheduler runs it, on those numbers instead of real agents:

- an agent starts once every need is met and a slot is free (``max_parallel``; none: no cap),
  agents that are ready together starting in the spec's order;
- a need on an agent's name is met when that agent ends; a need on a signal when its first
  emitter fires it (by default at the emitter's end); a signal only a file glob fires (no agent
  declares it) is taken as fired from the start;
- an integrator (``integrate: true``) starts when every other agent has ended.

The critical path is the chain of agents that released each other up to the last end, with no
cap on parallelism (the best the graph allows); the predicted time is the end with the spec's
``max_parallel``; the speed-up is the sum of the estimates over that. A spec whose agents wait on
each other in a cycle has no prediction (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from counterpoint_protocol.events import PlanPrediction
from counterpoint_protocol.spec import AgentSpec, Spec

DEFAULT_MINUTES = 30.0
"""The estimate of an agent the director gave none for."""


@dataclass
class _Need:
    """One need of an agent: met at the end of ``agents`` (an agent's name, or every agent an
    integrator waits for), or when the first of ``emitters`` fires it."""

    agents: list[str] = field(default_factory=list)
    emitters: list[str] = field(default_factory=list)
    signal: str | None = None


def _minutes(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


class _Plan:
    """The spec's agents (first section of a name), their estimates and needs."""

    def __init__(
        self, spec: Spec, estimates: Mapping[str, float], signal_minutes: Mapping[str, float]
    ) -> None:
        self.agents: dict[str, AgentSpec] = {}
        for agent in spec.agents:
            self.agents.setdefault(agent.name, agent)
        self.minutes: dict[str, float] = {}
        self.defaulted: list[str] = []
        for name in self.agents:
            given = _minutes(estimates.get(name))
            if given is None:
                self.defaulted.append(name)
            self.minutes[name] = DEFAULT_MINUTES if given is None else given
        self.signal_minutes = {k: m for k, v in signal_minutes.items() if (m := _minutes(v)) is not None}
        emitters: dict[str, list[str]] = {}
        for name, agent in self.agents.items():
            for signal in agent.settings.emits:
                emitters.setdefault(signal, []).append(name)
        builders = [n for n, a in self.agents.items() if not a.settings.integrate]
        self.needs: dict[str, list[_Need]] = {}
        for name, agent in self.agents.items():
            needs: list[_Need] = []
            for need in agent.settings.needs:
                if need in self.agents and need != name:
                    needs.append(_Need(agents=[need]))
                elif emitters.get(need):
                    needs.append(_Need(emitters=[e for e in emitters[need] if e != name], signal=need))
            if agent.settings.integrate:
                needs.append(_Need(agents=[b for b in builders if b != name]))
            self.needs[name] = [n for n in needs if n.agents or n.emitters]

    def fires_at(self, signal: str | None, emitter: str, start: float) -> float:
        own = self.minutes[emitter]
        at = self.signal_minutes.get(signal or "", own)
        return start + min(at, own)


@dataclass
class _Schedule:
    start: dict[str, float] = field(default_factory=dict)
    end: dict[str, float] = field(default_factory=dict)
    released_by: dict[str, str | None] = field(default_factory=dict)


def _ready_at(plan: _Plan, name: str, sched: _Schedule) -> tuple[float, str | None] | None:
    """When every need of ``name`` is met and the agent that met the last one; None while some
    need depends on an agent that has not started yet."""
    ready, by = 0.0, None
    for need in plan.needs[name]:
        if need.agents:
            if any(a not in sched.end for a in need.agents):
                return None
            when, who = max((sched.end[a], a) for a in need.agents)
        else:
            started = [
                (plan.fires_at(need.signal, e, sched.start[e]), e) for e in need.emitters if e in sched.start
            ]
            if not started:
                return None
            when, who = min(started)
        if when > ready or by is None:
            ready, by = max(ready, when), who
    return ready, by


def _simulate(plan: _Plan, slots: int | None) -> _Schedule | None:
    sched = _Schedule()
    order = list(plan.agents)
    now = 0.0
    while len(sched.start) < len(order):
        upcoming: list[float] = []
        started = True
        while started:  # an agent started now may meet another's need now (a signal at minute 0)
            started = False
            running = sum(1 for n in sched.start if sched.end[n] > now)
            free = math.inf if slots is None else slots - running
            for name in order:
                if name in sched.start:
                    continue
                ready = _ready_at(plan, name, sched)
                if ready is None:
                    continue
                if ready[0] <= now and free > 0:
                    sched.start[name] = now
                    sched.end[name] = now + plan.minutes[name]
                    sched.released_by[name] = ready[1]
                    free -= 1
                    started = True
                elif ready[0] > now:
                    upcoming.append(ready[0])
        upcoming += [sched.end[n] for n in sched.start]
        later = [t for t in upcoming if t > now]
        if len(sched.start) < len(order):
            if not later:
                return None  # the agents left wait on each other: a cycle
            now = min(later)
    return sched


def predict(
    spec: Spec,
    estimates: Mapping[str, float],
    signal_minutes: Mapping[str, float] | None = None,
) -> PlanPrediction | None:
    """The predicted critical path and speed-up of ``spec`` (None for a cycle or no agents)."""
    plan = _Plan(spec, estimates, signal_minutes or {})
    if not plan.agents:
        return None
    free = _simulate(plan, None)
    capped = _simulate(plan, spec.max_parallel) if spec.max_parallel else free
    if free is None or capped is None:
        return None
    last = max(free.end, key=lambda n: (free.end[n], n))
    chain = [last]
    while (previous := free.released_by.get(chain[-1])) is not None and previous not in chain:
        chain.append(previous)
    chain.reverse()
    sequential = sum(plan.minutes.values())
    predicted = max(capped.end.values())
    return PlanPrediction(
        estimates={name: round(plan.minutes[name], 2) for name in plan.agents},
        defaulted=plan.defaulted,
        critical_path=chain,
        critical_path_minutes=round(free.end[last], 2),
        sequential_minutes=round(sequential, 2),
        predicted_minutes=round(predicted, 2),
        max_parallel=spec.max_parallel,
        speedup=round(sequential / predicted, 2) if predicted > 0 else 1.0,
    )


def describe(prediction: PlanPrediction) -> str:
    """One line: the critical path, its length, one after another, the speed-up."""
    path = " → ".join(prediction.critical_path)
    text = (
        f"critical path {path} ({_time(prediction.critical_path_minutes)}); "
        f"one after another {_time(prediction.sequential_minutes)}"
    )
    if prediction.max_parallel and prediction.predicted_minutes > prediction.critical_path_minutes:
        text += f"; at max_parallel {prediction.max_parallel} {_time(prediction.predicted_minutes)}"
    return text + f"; predicted speed-up {prediction.speedup:.2f}x"


def _time(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:g} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours}h{rest:02d}"

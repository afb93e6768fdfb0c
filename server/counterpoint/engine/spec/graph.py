"""The dependency graph of a spec's agents, and the cycles in it.

`SignalGraph` is the graph the validator walks: a node per agent and one per
signal that agents emit (and no glob fires), an edge from an agent to each agent
it needs by name and to each such signal it needs, and from a signal to each of
its emitters. A signal emitted by thousands of agents and needed by thousands
more so takes needers + emitters edges, not needers x emitters.
`dependency_cycles` finds each ``needs`` entry that closes a cycle (strongly
connected components, then a shortest path to name the cycle).
`agent_dependencies` is the agent-to-agent view the code lenses show.

The work stays linear in the spec: a walk sorts only the agents it reaches, expands a
signal once, the walks that name cycles share a budget (past it a cycle is named
by its two ends), and a long cycle is shown by its first and last agents and its
length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from counterpoint_protocol.spec import AgentSpec, Spec

_WALK_FLOOR = 100_000
"""The cycle-naming walks may visit this many agents, plus `_WALK_PER_AGENT` per agent."""
_WALK_PER_AGENT = 20
_SHOWN = 6
"""A cycle of more agents is shown by its first and last few."""


def signal_emitters(spec: Spec) -> dict[str, set[str]]:
    """Signal -> the agents that emit it."""
    emitters: dict[str, set[str]] = {}
    for agent in spec.agents:
        for signal in agent.settings.emits:
            emitters.setdefault(signal, set()).add(agent.name)
    return emitters


class SignalGraph:
    """Agents and the signals they wait for as nodes (see the module's docstring).

    Needing an agent's name depends on that agent; needing a signal depends on
    every agent that emits it, unless the signal has a glob in ``signals`` (a
    file can fire it, so no agent has to run first). A duplicate agent name
    counts once, with its first section.
    """

    def __init__(self, spec: Spec) -> None:
        self.firsts: dict[str, AgentSpec] = {}
        for agent in spec.agents:
            if agent.name and agent.name not in self.firsts:
                self.firsts[agent.name] = agent
        self.emitters = {
            signal: agents for signal, agents in signal_emitters(spec).items() if signal not in spec.signals
        }
        """Signal (fired by agents only) -> its emitters."""
        self.direct: dict[str, list[str]] = {}
        """Agent -> the agents it needs by name."""
        self.via: dict[str, list[str]] = {}
        """Agent -> the signals (fired by agents only) it needs."""
        for name, agent in self.firsts.items():
            needs = dict.fromkeys(agent.settings.needs)
            self.direct[name] = [need for need in needs if need in self.firsts]
            self.via[name] = [need for need in needs if need in self.emitters]

    @property
    def node_count(self) -> int:
        return len(self.firsts) + len(self.emitters)

    @property
    def edge_count(self) -> int:
        needs = sum(len(self.direct[name]) + len(self.via[name]) for name in self.firsts)
        return needs + sum(len(agents) for agents in self.emitters.values())

    def components(self) -> dict[str, int]:
        """Agent -> its strongly connected component (agents on one cycle share one)."""
        ids = {name: index for index, name in enumerate(self.firsts)}
        for agents in self.emitters.values():
            for agent in agents:
                ids.setdefault(agent, len(ids))  # an unnamed emitter: a node without edges
        first_signal = len(ids)
        signal_ids = {signal: first_signal + index for index, signal in enumerate(self.emitters)}
        successors: list[list[int]] = [[] for _ in range(first_signal + len(signal_ids))]
        for name in self.firsts:
            successors[ids[name]] = [
                *(ids[agent] for agent in self.direct[name]),
                *(signal_ids[signal] for signal in self.via[name]),
            ]
        for signal, agents in self.emitters.items():
            successors[signal_ids[signal]] = [ids[agent] for agent in agents]
        component = strong_components(successors)
        return {name: component[index] for name, index in ids.items()}

    def targets(self, need: str) -> set[str]:
        """The agents one ``needs`` entry waits for."""
        targets = {need} if need in self.firsts else set()
        return targets | self.emitters.get(need, set())

    def shortest_path(self, start: str, goal: str, *, limit: int) -> tuple[list[str] | None, int]:
        """The shortest path of agents from ``start`` to ``goal`` (both included), if any,
        and how many agents the walk visited; None once it has visited ``limit`` agents.

        The path is the one a walk over agent-to-agent edges finds when it takes each
        agent's successors in sorted order. A signal is expanded once: after that
        every emitter of it has been seen, so later agents needing it add nothing.
        """
        previous: dict[str, str | None] = {start: None}
        expanded: set[str] = set()
        queue = deque([start])
        while queue and len(previous) <= limit:
            node = queue.popleft()
            if node == goal:
                path = [node]
                while (step := previous[path[-1]]) is not None:
                    path.append(step)
                return path[::-1], len(previous)
            fresh = {nxt for nxt in self.direct.get(node, ()) if nxt not in previous}
            for signal in self.via.get(node, ()):
                if signal not in expanded:
                    expanded.add(signal)
                    fresh.update(nxt for nxt in self.emitters[signal] if nxt not in previous)
            for nxt in sorted(fresh):
                previous[nxt] = node
                queue.append(nxt)
        return None, len(previous)


def agent_dependencies(spec: Spec) -> dict[str, set[str]]:
    """Agent name -> the agents it directly depends on (see `SignalGraph`).

    A view for people (code lenses): its size is needers x emitters for a signal
    many agents emit; the checks walk the `SignalGraph` instead.
    """
    graph = SignalGraph(spec)
    dependencies: dict[str, set[str]] = {}
    for name in graph.firsts:
        targets = set(graph.direct[name])
        for signal in graph.via[name]:
            targets |= graph.emitters[signal]
        dependencies[name] = targets
    return dependencies


def dependency_cycles(spec: Spec) -> Iterator[tuple[AgentSpec, str, str, str]]:
    """``(agent, need, code, message)`` for each need that closes a dependency cycle.

    An agent that needs its own name is left out (the validator reports that as
    a self-dependency); needing a signal the agent emits itself is a
    ``self-dependency``, any other cycle a ``dependency-cycle``, named by the
    shortest path from the first (by name) agent the need waits for that lies on
    a cycle with the agent. A duplicate agent name counts once, with its first section.
    """
    graph = SignalGraph(spec)
    component = graph.components()
    budget = _WALK_FLOOR + _WALK_PER_AGENT * len(graph.firsts)
    # signal -> component -> its first emitter (by name) in that component
    first_emitter: dict[str, dict[int, str]] = {}
    for signal, agents in graph.emitters.items():
        firsts_here = first_emitter[signal] = {}
        for emitter in agents:
            group = component[emitter]
            current = firsts_here.get(group)
            if current is None or emitter < current:
                firsts_here[group] = emitter
    # the walks share a budget: take the agents in the order the budget has always gone
    walk_order = {agent.name: agent for agent in reversed(spec.agents) if agent.name}
    for name in walk_order:
        agent = graph.firsts[name]
        here = component[name]
        for need in agent.settings.needs:
            if need == name:
                continue  # reported as self-dependency
            if name in graph.emitters.get(need, ()):
                yield (
                    agent,
                    need,
                    "self-dependency",
                    f"agent '{name}' needs '{need}', which it emits itself "
                    f"(dependency cycle: {name} -> {name})",
                )
                continue
            on_cycle = [need] if need in graph.firsts and component.get(need) == here else []
            if (first := first_emitter.get(need, {}).get(here)) is not None:
                on_cycle.append(first)
            if not on_cycle:
                continue
            target = min(on_cycle)
            path, visited = graph.shortest_path(target, name, limit=budget)
            budget -= visited
            cycle = _cycle_text([name, *path]) if path else f"{name} -> {target} -> ... -> {name}"
            yield agent, need, "dependency-cycle", f"dependency cycle: {cycle}"


def _cycle_text(cycle: list[str]) -> str:
    """``a -> b -> a``; a long cycle as ``a -> b -> c -> ... -> y -> z -> a (n agents)``."""
    agents = len(cycle) - 1
    if agents <= 2 * _SHOWN:
        return " -> ".join(cycle)
    half = _SHOWN // 2
    shown = [*cycle[: half + 1], "...", *cycle[-half:]]
    return " -> ".join(shown) + f" ({agents} agents)"


def strong_components(successors: list[list[int]]) -> list[int]:
    """Node -> the root of its strongly connected component (Tarjan's, without recursion)."""
    count = len(successors)
    order = [-1] * count  # when a node was reached
    low = [0] * count  # the earliest node on the stack it reaches
    on_stack = [False] * count
    component = [-1] * count
    stack: list[int] = []
    reached = 0
    for root in range(count):
        if order[root] != -1:
            continue
        order[root] = low[root] = reached
        reached += 1
        stack.append(root)
        on_stack[root] = True
        walk = [(root, iter(successors[root]))]
        while walk:
            node, rest = walk[-1]
            for nxt in rest:  # resumes where the last visit of this node stopped
                if order[nxt] == -1:
                    order[nxt] = low[nxt] = reached
                    reached += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    walk.append((nxt, iter(successors[nxt])))
                    break
                if on_stack[nxt] and order[nxt] < low[node]:
                    low[node] = order[nxt]
            else:
                walk.pop()
                if walk and low[node] < low[walk[-1][0]]:
                    low[walk[-1][0]] = low[node]
                if low[node] == order[node]:
                    while True:
                        member = stack.pop()
                        on_stack[member] = False
                        component[member] = node
                        if member == node:
                            break
    return component

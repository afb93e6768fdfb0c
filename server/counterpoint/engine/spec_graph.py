"""The dependency graph of a spec's agents, and the cycles in it.

`agent_dependencies` is the graph the scheduler, the code lenses and the
validator use; `dependency_cycles` finds each ``needs`` entry that closes a
cycle (strongly connected components, then a shortest path to name the cycle).

The work stays linear in the spec: successors are sorted once, the walks that
name cycles share a budget (past it a cycle is named by its two ends), and a
long cycle is shown by its first and last agents and its length.
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


def agent_dependencies(spec: Spec) -> dict[str, set[str]]:
    """Agent name -> the agents it directly depends on.

    Needing an agent's name depends on that agent; needing a signal depends on
    every agent that emits it, unless the signal has a glob in ``signals`` (a
    file can fire it, so no agent has to run first). A duplicate agent name
    counts once, with its first section.
    """
    names = {agent.name for agent in spec.agents if agent.name}
    emitters = signal_emitters(spec)
    dependencies: dict[str, set[str]] = {}
    for agent in spec.agents:
        if agent.name and agent.name not in dependencies:
            targets: set[str] = set()
            for need in agent.settings.needs:
                targets |= need_targets(spec, need, names, emitters)
            dependencies[agent.name] = targets
    return dependencies


def dependency_cycles(spec: Spec) -> Iterator[tuple[AgentSpec, str, str, str]]:
    """``(agent, need, code, message)`` for each need that closes a dependency cycle.

    An agent that needs its own name is left out (the validator reports that as
    a self-dependency); needing a signal the agent emits itself is a
    ``self-dependency``, any other cycle a ``dependency-cycle``. A duplicate
    agent name counts once, with its first section.
    """
    graph = {name: sorted(targets) for name, targets in agent_dependencies(spec).items()}
    component = components(graph)
    budget = _WALK_FLOOR + _WALK_PER_AGENT * len(graph)
    names = {agent.name for agent in spec.agents if agent.name}
    emitters = signal_emitters(spec)
    firsts = {agent.name: agent for agent in reversed(spec.agents) if agent.name}
    for name, agent in firsts.items():
        for need in agent.settings.needs:
            if need == name:
                continue  # reported as self-dependency
            targets = need_targets(spec, need, names, emitters)
            if name in targets:
                yield (
                    agent,
                    need,
                    "self-dependency",
                    f"agent '{name}' needs '{need}', which it emits itself "
                    f"(dependency cycle: {name} -> {name})",
                )
                continue
            for target in sorted(targets):
                if name not in component or component.get(target) != component[name]:
                    continue
                path, visited = shortest_path(graph, target, name, limit=budget)
                budget -= visited
                cycle = _cycle_text([name, *path]) if path else f"{name} -> {target} -> ... -> {name}"
                yield agent, need, "dependency-cycle", f"dependency cycle: {cycle}"
                break


def signal_emitters(spec: Spec) -> dict[str, set[str]]:
    """Signal -> the agents that emit it."""
    emitters: dict[str, set[str]] = {}
    for agent in spec.agents:
        for signal in agent.settings.emits:
            emitters.setdefault(signal, set()).add(agent.name)
    return emitters


def need_targets(spec: Spec, need: str, names: set[str], emitters: dict[str, set[str]]) -> set[str]:
    """The agents one ``needs`` entry waits for (see `agent_dependencies`)."""
    targets = {need} if need in names else set()
    if need not in spec.signals:
        targets |= emitters.get(need, set())
    return targets


def _cycle_text(cycle: list[str]) -> str:
    """``a -> b -> a``; a long cycle as ``a -> b -> c -> ... -> y -> z -> a (n agents)``."""
    agents = len(cycle) - 1
    if agents <= 2 * _SHOWN:
        return " -> ".join(cycle)
    half = _SHOWN // 2
    shown = [*cycle[: half + 1], "...", *cycle[-half:]]
    return " -> ".join(shown) + f" ({agents} agents)"


def components(graph: dict[str, list[str]]) -> dict[str, str]:
    """Agent -> a representative of its strongly connected component (Kosaraju)."""
    order: list[str] = []
    seen: set[str] = set()
    for root in graph:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(graph[root]))]
        while stack:
            node, successors = stack[-1]
            nxt = next((n for n in successors if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(graph.get(nxt, ()))))
    reverse: dict[str, set[str]] = {}
    for node, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    component: dict[str, str] = {}
    for root in reversed(order):
        if root in component:
            continue
        component[root] = root
        pending = [root]
        while pending:
            for previous in reverse.get(pending.pop(), ()):
                if previous not in component:
                    component[previous] = root
                    pending.append(previous)
    return component


def shortest_path(
    graph: dict[str, list[str]], start: str, goal: str, *, limit: int
) -> tuple[list[str] | None, int]:
    """The shortest path of agents from ``start`` to ``goal`` (both included), if any,
    and how many agents the walk visited; None once it has visited ``limit`` agents.

    ``graph`` lists each agent's successors sorted (the first shortest path wins).
    """
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue and len(previous) <= limit:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (step := previous[path[-1]]) is not None:
                path.append(step)
            return path[::-1], len(previous)
        for nxt in graph.get(node, ()):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None, len(previous)

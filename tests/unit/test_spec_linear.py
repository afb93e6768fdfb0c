"""Parse+validate does work linear in the size of the spec (the same parser runs as the user types).

Proved by counting operations (every Python and builtin call, through `sys.setprofile`)
at a size n and 8n: linear work grows ~8 times, quadratic work ~64 times. Only the
regex test times anything, and it compares a best-of ratio against a bound far
below quadratic; the absolute figures live in ``python -m benchmarks spec``.
"""

from __future__ import annotations

import gc
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from counterpoint.engine.spec import graph as spec_graph
from counterpoint.engine.spec import load_spec
from counterpoint.engine.spec.gc_pause import cyclic_gc_paused
from counterpoint.engine.spec.graph import SignalGraph, dependency_cycles
from counterpoint.engine.spec.parser import parse_spec
from counterpoint.engine.spec.values import Speller, did_you_mean
from counterpoint_protocol.spec import Spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bench_spec import agents_spec, hub_spec, lines_spec

PATH = Path("/project/big.agents.md")
LINEAR_BOUND = 12.0
"""Most growth of the work allowed for 8 times the input: linear is ~8, quadratic ~64."""


def operations(run: Callable[[], object]) -> int:
    """How many calls (Python functions and builtins) ``run`` makes."""
    count = 0

    def profile(_frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count


def growth(make: Callable[[int], str], n: int) -> float:
    small = operations(lambda: load_spec(make(n), PATH, check_files=False))
    large = operations(lambda: load_spec(make(8 * n), PATH, check_files=False))
    return large / small


def ring_spec(agents: int) -> str:
    """Agents in one long dependency cycle: every need closes it."""
    return "".join(f"## a{i}\nneeds: a{(i - 1) % agents}\nDo {i}.\n" for i in range(agents))


def test_many_agents_with_misspelt_needs_take_linear_work() -> None:
    # one agent in ten needs a misspelt signal: a did-you-mean over every name per finding
    assert growth(agents_spec, 250) < LINEAR_BOUND


def test_a_long_dependency_cycle_takes_linear_work_and_text() -> None:
    # every need closes the cycle: a walk of the whole graph per need, a message naming every agent
    assert growth(ring_spec, 150) < LINEAR_BOUND
    small, large = (load_spec(ring_spec(n), PATH, check_files=False) for n in (150, 1200))
    size = [sum(len(d.message) for d in spec.diagnostics) for spec in (small, large)]
    assert size[1] / size[0] < LINEAR_BOUND
    cycles = [d for d in large.diagnostics if d.code == "dependency-cycle"]
    assert len(cycles) == 1200
    assert all(d.message.startswith("dependency cycle: ") for d in cycles)
    # the first cycles are named in full (shortened: first and last agents, and the length)
    full = [d.message for d in cycles if d.message.endswith("(1200 agents)")]
    shown = "a1199 -> a1198 -> a1197 -> a1196 -> ... -> a1 -> a0 -> a1199 (1200 agents)"
    assert f"dependency cycle: {shown}" in full


def test_long_task_text_takes_linear_work() -> None:
    assert growth(lines_spec, 1500) < LINEAR_BOUND


def test_many_diagnostics_do_not_slow_each_agent() -> None:
    # every agent has a bad runner: the runner check must not scan every diagnostic per agent
    def spec(agents: int) -> str:
        return "".join(f"## a{i}\nrunner: nope\nDo {i}.\n" for i in range(agents))

    assert growth(spec, 150) < LINEAR_BOUND


def best_time(text: str) -> float:
    """The best of five parses in CPU time of this thread: another process's load does not count."""
    best = float("inf")
    for _ in range(5):
        started = time.thread_time()
        parse_spec(text, PATH)
        best = min(best, time.thread_time() - started)
    return best


def test_headings_with_long_runs_of_blanks_parse_in_linear_time() -> None:
    # regexes that backtrack over runs of blanks are quadratic in the line's length
    def heading(n: int) -> str:
        return "## a" + " \t" * n + "b" + " " * n + "#" * 3 + " " * n + "c\n" + "Do it.\n"

    small, large = best_time(heading(2_000)), best_time(heading(16_000))
    assert large / max(small, 1e-4) < 24, (small, large)
    spec = parse_spec(heading(3), PATH)
    assert spec.agents[0].name == "a" + " \t" * 3 + "b" + " " * 3 + "###" + " " * 3 + "c"


def test_the_speller_gives_did_you_mean_hints() -> None:
    rng = random.Random(7)
    names = {"".join(rng.choice("abcs_-0123") for _ in range(rng.randint(1, 9))) for _ in range(400)}
    speller = Speller(names)
    for _ in range(40):  # 40 lookups of 400 names: within the budget, so exact
        word = "".join(rng.choice("abcs_-0123x") for _ in range(rng.randint(0, 10)))
        assert speller.hint(word) == did_you_mean(word, names), word


# -- the dependency graph: signal nodes, not needers x emitters edges ----------------


def test_many_emitters_and_many_needers_of_one_signal_take_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # n builders emit 'built' and need 'reviewed', n reviewers the other way round: every
    # need closes a cycle, and an agent-to-agent graph has n * n edges. Without the
    # floor of the walks' budget, small sizes show how it grows past the floor.
    monkeypatch.setattr(spec_graph, "_WALK_FLOOR", 0)
    assert growth(hub_spec, 40) < LINEAR_BOUND
    monkeypatch.undo()
    spec = load_spec(hub_spec(320), PATH, check_files=False)
    cycles = [d.message for d in spec.diagnostics if d.code == "dependency-cycle"]
    assert len(cycles) == 640
    assert "dependency cycle: review319 -> build0 -> review319" in cycles


def test_the_graph_has_a_node_per_signal_and_an_edge_per_need_or_emit() -> None:
    small, large = (SignalGraph(parse_spec(hub_spec(n), PATH)) for n in (40, 320))
    # n builders + n reviewers + 2 signals; each agent needs one signal and emits one
    assert (small.node_count, small.edge_count) == (82, 160)
    assert (large.node_count, large.edge_count) == (642, 1280)


def reference_cycles(spec: Spec) -> list[tuple[str, str, str, str]]:
    """The cycles as named on the graph of agent-to-agent edges (needers x emitters):
    the previous implementation, kept as the oracle for the signal-node graph."""
    names = {agent.name for agent in spec.agents if agent.name}
    emitters: dict[str, set[str]] = {}
    for agent in spec.agents:
        for signal in agent.settings.emits:
            emitters.setdefault(signal, set()).add(agent.name)

    def targets(need: str) -> set[str]:
        found = {need} if need in names else set()
        return found | (emitters.get(need, set()) if need not in spec.signals else set())

    firsts = {agent.name: agent for agent in reversed(spec.agents) if agent.name}
    graph = {name: sorted(set().union(*map(targets, firsts[name].settings.needs))) for name in firsts}

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def shortest(start: str, goal: str) -> list[str]:
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while True:
            node = queue.popleft()
            if node == goal:
                path = [node]
                while (step := previous[path[-1]]) is not None:
                    path.append(step)
                return path[::-1]
            for nxt in graph.get(node, ()):
                if nxt not in previous:
                    previous[nxt] = node
                    queue.append(nxt)

    found = []
    for name, agent in firsts.items():
        for need in agent.settings.needs:
            if need == name:
                continue
            if name in targets(need):
                text = f"agent '{name}' needs '{need}', which it emits itself (dependency cycle: {name} -> {name})"
                found.append((name, need, "self-dependency", text))
                continue
            for target in sorted(targets(need)):
                if name in reach(target):
                    cycle = " -> ".join([name, *shortest(target, name)])
                    found.append((name, need, "dependency-cycle", f"dependency cycle: {cycle}"))
                    break
    return found


@st.composite
def tangled_spec(draw: st.DrawFn) -> str:
    """Agents that need and emit a few of a handful of names; some signals have globs."""
    words = ["a", "b", "c", "d", "e", "s", "t", "u", ""]
    agents = draw(st.lists(st.sampled_from(words), min_size=1, max_size=8))
    globbed = draw(st.lists(st.sampled_from(["s", "t", "a"]), max_size=2, unique=True))
    out = ["---", "signals:", *[f"  {g}: 'out/{g}.txt'" for g in globbed], "---"]
    for name in agents:
        needs = draw(st.lists(st.sampled_from(words[:-1]), max_size=3))
        emits = draw(st.lists(st.sampled_from(words[:-1]), max_size=3))
        out += [f"## {name}", f"needs: {', '.join(needs)}", f"emits: {', '.join(emits)}", "Do it."]
    return "\n".join(out) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tangled_spec())
def test_cycles_on_signal_nodes_are_named_as_on_agent_edges(text: str) -> None:
    spec = parse_spec(text, PATH)
    found = [(agent.name, need, code, message) for agent, need, code, message in dependency_cycles(spec)]
    assert found == reference_cycles(spec)


# -- the cyclic garbage collector stays out of a parse -------------------------------


def test_no_garbage_collection_runs_during_parse_and_validate() -> None:
    # a parse builds acyclic data: full collections over a growing heap are pure cost
    text = agents_spec(3000)
    collections: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    assert gc.isenabled()
    gc.collect()  # no young objects pending: none are due before the parse
    gc.callbacks.append(watch)
    try:
        load_spec(text, PATH, check_files=False)
    finally:
        gc.callbacks.remove(watch)
    # at most the young collection that runs as the collector comes back on (before: hundreds)
    assert len(collections) <= 1, collections
    assert gc.isenabled()


def test_the_collector_pause_nests_and_keeps_a_disabled_collector_off() -> None:
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner end does not turn it on under the outer
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # someone else turned it off: it stays off
    finally:
        gc.enable()


def test_the_collector_pause_is_shared_by_threads() -> None:
    # thread A pauses, thread B pauses and ends first: still paused until A ends
    a_in, b_done, a_may_end = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def thread_a() -> None:
        with cyclic_gc_paused():
            a_in.set()
            a_may_end.wait(30)
            seen.append(gc.isenabled())

    def thread_b() -> None:
        a_in.wait(30)
        with cyclic_gc_paused():
            pass
        seen.append(gc.isenabled())
        b_done.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for thread in threads:
        thread.start()
    assert b_done.wait(30)
    a_may_end.set()
    for thread in threads:
        thread.join(30)
    assert seen == [False, False]
    assert gc.isenabled()

"""Benchmark: event-driven scheduling against the ideal critical path, waves and a sequence.

Run with `python -m benchmarks scheduler [--sizes 20,100,1000] [--scale 0.2] [--seed 7]`.
For each size a random DAG (fixed seed) of agents with `think` durations of 0.2 to 2 s
is written as replay transcripts and run through the real engine (`Engine` + `Run`,
no file watching). Half of the needs are agent names, half are signals the needed
agent emits as its last step. Compared in the same run:

- ideal: the critical path (longest chain of durations); event-driven scheduling
  should come within 2 % of it (target wall / ideal <= 1.02 at 100 agents);
- waves: every agent whose needs are all in earlier waves runs in the next wave,
  which starts when the whole previous wave has ended (run for real with asyncio
  sleeps of the same durations);
- sequential: the sum of all durations (computed).

Sizes above 100 have their durations multiplied by ``--scale`` so the 1000-agent
run stays around a minute.

Tiny agents (``--tiny 2000``, 0 to skip): that many command agents that each print one line
(``echo hi``), all at once and under ``max_parallel: 4``: wall, busy (the time agents actually
ran, from their process start), parallelism = busy / wall, the median time from an agent's
start to its process running, and the longest the event loop was late for a 20 ms tick.
Busy time must stay the agents' running time (parallelism near what really ran at once), and
the loop must keep answering while thousands of processes start.

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine
from counterpoint.engine.run import RunOptions
from counterpoint_protocol.events import EventType, parse_timestamp
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

from tests.support.load import Sampler


@dataclass
class Node:
    name: str
    seconds: float
    parents: list[int] = field(default_factory=list)
    by_signal: list[bool] = field(default_factory=list)
    """For each parent: True if the need is the parent's signal, False if its name."""


def make_dag(n: int, seed: int, scale: float) -> list[Node]:
    """A random DAG: agent i needs 0-3 of the agents shortly before it."""
    rng = random.Random(seed * 100_003 + n)
    window = max(4, n // 8)
    nodes: list[Node] = []
    for i in range(n):
        node = Node(f"a{i:04d}", round(rng.uniform(0.2, 2.0) * scale, 4))
        if i > 0 and rng.random() > 0.15:
            low = max(0, i - window)
            node.parents = sorted(rng.sample(range(low, i), min(i - low, rng.randint(1, 3))))
            node.by_signal = [rng.random() < 0.5 for _ in node.parents]
        nodes.append(node)
    return nodes


def ideal_critical_path(nodes: list[Node]) -> float:
    finish: list[float] = []
    for node in nodes:
        finish.append(node.seconds + max((finish[p] for p in node.parents), default=0.0))
    return max(finish)


def waves_of(nodes: list[Node]) -> list[list[Node]]:
    level: list[int] = []
    for node in nodes:
        level.append(1 + max((level[p] for p in node.parents), default=-1))
    waves: list[list[Node]] = [[] for _ in range(max(level) + 1)]
    for node, lv in zip(nodes, level, strict=True):
        waves[lv].append(node)
    return waves


async def run_waves(nodes: list[Node]) -> float:
    """Run the waves for real: each wave's sleeps in parallel, waves one after another."""
    start = time.monotonic()
    for wave in waves_of(nodes):
        await asyncio.gather(*(asyncio.sleep(node.seconds) for node in wave))
    return time.monotonic() - start


def write_spec(folder: Path, nodes: list[Node]) -> Spec:
    """Transcripts on disk and the spec built in memory (the parser is not what we measure)."""
    (folder / "transcripts").mkdir(parents=True)
    signal_parents = {p for node in nodes for p, sig in zip(node.parents, node.by_signal, strict=True) if sig}
    agents = []
    for i, node in enumerate(nodes):
        steps: list[dict[str, Any]] = [{"action": "think", "seconds": node.seconds}]
        emits = []
        if i in signal_parents:
            emits = [f"done_{node.name}"]
            steps.append({"action": "emit", "signal": emits[0]})
        path = folder / "transcripts" / f"{node.name}.jsonl"
        path.write_text("".join(json.dumps(s) + "\n" for s in steps))
        needs = [
            f"done_{nodes[p].name}" if sig else nodes[p].name
            for p, sig in zip(node.parents, node.by_signal, strict=True)
        ]
        where = SourceRange.on_line(i)
        agents.append(
            AgentSpec(
                name=node.name,
                settings=AgentSettings.model_validate(
                    {
                        "runner": "replay",
                        "transcript": f"transcripts/{node.name}.jsonl",
                        "needs": needs,
                        "emits": emits,
                    }
                ),
                heading_range=where,
                name_range=where,
                section_end_line=i,
            )
        )
    (folder / ".counterpoint").mkdir()
    return Spec(path=str(folder / "bench.agents.md"), feature=f"bench {len(nodes)} agents", agents=agents)


async def run_engine(nodes: list[Node]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cp-bench-") as tmp:
        root = Path(tmp)
        spec = write_spec(root, nodes)
        engine = await Engine.open(root)
        try:
            run = engine.create_run(spec, RunOptions(watch=False))
            started = time.monotonic()
            report = await engine.execute(run)
            outer = time.monotonic() - started
        finally:
            await engine.aclose()
    return {"report": report, "outer_s": outer}


def release_latencies(report: dict[str, Any]) -> list[float]:
    """Seconds from the event that released each agent to its start (ms timestamps)."""
    fired = {s["name"]: s["at_s"] for s in report["signals"]}
    ends = {a["name"]: a["end_s"] for a in report["agents"]}
    out = []
    for agent in report["agents"]:
        need = agent.get("released_by")
        at = fired.get(need) if need in fired else ends.get(need)
        if need and at is not None and agent["start_s"] is not None:
            out.append(max(0.0, agent["start_s"] - at))
    return out


async def bench_size(n: int, seed: int, scale: float) -> dict[str, Any]:
    nodes = make_dag(n, seed, scale)
    ideal = ideal_critical_path(nodes)
    sequential = sum(node.seconds for node in nodes)
    engine_result = await run_engine(nodes)
    report = engine_result["report"]
    waves_wall = await run_waves(nodes)
    latencies = sorted(release_latencies(report))
    wall = report["wall_s"]
    return {
        "agents": n,
        "scale": scale,
        "status": report["status"],
        "ideal_s": round(ideal, 3),
        "wall_s": round(wall, 3),
        "wall_over_ideal": round(wall / ideal, 4),
        "outer_s": round(engine_result["outer_s"], 3),
        "waves": len(waves_of(nodes)),
        "waves_s": round(waves_wall, 3),
        "waves_over_wall": round(waves_wall / wall, 3),
        "sequential_s": round(sequential, 3),
        "sequential_over_wall": round(sequential / wall, 2),
        "parallelism": report["parallelism"],
        "release_to_start_ms_median": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "release_to_start_ms_max": round(1000 * max(latencies), 1) if latencies else None,
    }


def tiny_spec(folder: Path, n: int) -> Spec:
    agents = [
        AgentSpec(
            name=f"t{i:04d}",
            settings=AgentSettings.model_validate({"runner": "command", "command": "echo hi"}),
            heading_range=SourceRange.on_line(i),
            name_range=SourceRange.on_line(i),
            section_end_line=i,
        )
        for i in range(n)
    ]
    return Spec(path=str(folder / "tiny.agents.md"), feature=f"{n} tiny agents", agents=agents)


async def bench_tiny(n: int, max_parallel: int | None) -> dict[str, Any]:
    """``n`` command agents printing one line, at most ``max_parallel`` at once (None: all)."""
    with tempfile.TemporaryDirectory(prefix="cp-bench-tiny-") as tmp:
        root = Path(tmp)
        engine = await Engine.open(root)
        try:
            options = RunOptions(watch=False, trust=True, max_parallel=max_parallel)
            run = engine.create_run(tiny_spec(root, n), options)
            async with Sampler() as sampler:
                report = await engine.execute(run)
            events = await engine.events(run.run_id)
        finally:
            await engine.aclose()
    started: dict[str, float] = {}
    to_process: list[float] = []
    for event in events:
        at = parse_timestamp(event.timestamp).timestamp()
        if event.type == EventType.AGENT_STARTED and event.actor:
            started[event.actor] = at
        elif event.type == EventType.AGENT_ACTIVE and event.actor in started:
            to_process.append(at - started[event.actor])
    return {
        "agents": n,
        "max_parallel": max_parallel or "all",
        "status": report["status"],
        "wall_s": report["wall_s"],
        "busy_s": report["busy_s"],
        "parallelism": report["parallelism"],
        "start_to_process_ms_median": round(1000 * statistics.median(to_process), 1) if to_process else None,
        "max_loop_lag_ms": round(sampler.max_lag * 1000, 1),
    }


def print_tiny(rows: list[dict[str, Any]]) -> None:
    print()
    print(
        "tiny agents | max_parallel | wall (s) | busy (s) | parallelism | start→process med (ms) | loop stall (ms)"
    )
    for r in rows:
        print(
            f"{r['agents']:>11} | {r['max_parallel']!s:>12} | {r['wall_s']:>8} | {r['busy_s']:>8} | "
            f"{r['parallelism']:>11} | {r['start_to_process_ms_median']!s:>22} | {r['max_loop_lag_ms']:>15}"
        )


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("agents", "agents"),
        ("scale", "scale"),
        ("ideal_s", "ideal (s)"),
        ("wall_s", "event-driven (s)"),
        ("wall_over_ideal", "wall/ideal"),
        ("waves_s", "waves (s)"),
        ("waves", "#waves"),
        ("sequential_s", "sequential (s)"),
        ("parallelism", "parallelism"),
        ("release_to_start_ms_median", "release→start med (ms)"),
        ("release_to_start_ms_max", "max (ms)"),
    ]
    widths = [max(len(title), *(len(str(r[key])) for r in rows)) for key, title in columns]
    print(" | ".join(title.rjust(w) for (_k, title), w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(row[key]).rjust(w) for (key, _t), w in zip(columns, widths, strict=True)))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and a JSON line, return the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks scheduler", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="20,100,1000", help="comma-separated agent counts")
    parser.add_argument("--scale", type=float, default=0.2, help="duration factor for sizes above 100")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tiny", type=int, default=2000, help="tiny command agents (0: skip)")
    args = parser.parse_args(argv)
    rows = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        rows.append(asyncio.run(bench_size(size, args.seed, args.scale if size > 100 else 1.0)))
    tiny = [asyncio.run(bench_tiny(args.tiny, limit)) for limit in (None, 4)] if args.tiny > 0 else []
    at_100 = next((r for r in rows if r["agents"] == 100), None)
    result = {
        "benchmark": "scheduler",
        "seed": args.seed,
        "rows": rows,
        "target": "wall/ideal <= 1.02 at 100 agents",
        "target_met": at_100["wall_over_ideal"] <= 1.02 if at_100 else None,
        "tiny": tiny,
    }
    if rows:
        print_table(rows)
    if tiny:
        print_tiny(tiny)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Benchmark: agents on a real two-node Ray cluster against the local executor, in the same run.

The cluster is the tests' (`tests.support.ray_cluster`: two hosts in network namespaces, 1 CPU
each); the coordinator is the real CLI on the head.

1. **Start latency** on a repository of ``--files`` files (10,000): a chain of ``--chain`` command
   agents (each needs the one before, so each starts alone), once with ``executor: local`` (an
   isolated copy here) and once with ``executor: ray``. Latency = ``agent_started`` ->
   ``agent_active`` (its process runs); medians. Target: Ray adds <= 300 ms.
2. **Many short agents** across both nodes: ``--agents`` command agents needing nothing, each
   sleeping ``--think`` s with ``resources: {CPU: 0.01}``; wall (``run_started`` ->
   ``run_finished``) over the critical path: with no needs, the longest agent
   (``agent_started`` -> ``agent_finished``, its start on the node included). Target: <= 1.15.

``python -m benchmarks ray [--files 10000] [--chain 6] [--agents 20] [--think 2]``
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import parse_timestamp

from benchmarks.bench_isolation import git, make_repo
from tests.support.ray_cluster import RayCluster, start_cluster


def _events(repo: Path, run_id: str) -> list[tuple[str, str | None, str, dict[str, Any]]]:
    conn = sqlite3.connect(repo / ".counterpoint" / "events.db")
    try:
        rows = conn.execute(
            "SELECT type, actor, timestamp, metadata FROM events WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
    finally:
        conn.close()
    return [(t, a, ts, json.loads(m)) for t, a, ts, m in rows]


def _run(cluster: RayCluster, repo: Path, spec: Path) -> tuple[str, dict[str, Any]]:
    done = cluster.driver(
        "-m", "counterpoint", "run", "--trust", "--quiet", str(spec), cwd=str(repo), stdout=subprocess.PIPE
    )
    out, _ = done.communicate(timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the run failed:\n{out[-2000:]}")
    conn = sqlite3.connect(repo / ".counterpoint" / "events.db")
    try:
        (run_id,) = conn.execute("SELECT run_id FROM events ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    report = json.loads((repo / ".counterpoint" / "runs" / run_id / "report.json").read_text())
    return run_id, report


def start_latency(cluster: RayCluster, repo: Path, chain: int, executor: str) -> list[float]:
    sections = []
    for n in range(chain):
        needs = f"needs: c{n - 1}\n" if n else ""
        sections.append(
            f"## c{n}\nrunner: command\ncommand: echo {executor} > out_{executor}_{n}.txt\n{needs}"
        )
    text = f"---\nexecutor: {executor}\nisolation: worktree\n---\n# Start latency\n\n" + "\n".join(sections)
    spec = repo / f"latency-{executor}.agents.md"
    spec.write_text(text)
    run_id, _ = _run(cluster, repo, spec)
    started: dict[str, str] = {}
    latencies = []
    for type, actor, ts, _meta in _events(repo, run_id):
        if type == "agent_started" and actor:
            started[actor] = ts
        elif type == "agent_active" and actor in started:
            latencies.append((parse_timestamp(ts) - parse_timestamp(started.pop(actor))).total_seconds())
    return latencies


def many_agents(cluster: RayCluster, repo: Path, agents: int, think: float, executor: str) -> dict[str, Any]:
    sections = [f"## s{n}\nrunner: command\ncommand: sleep {think}\n" for n in range(agents)]
    head = f"---\nexecutor: {executor}\nisolation: worktree\nresources: {{CPU: 0.01}}\n---\n# Many\n\n"
    text = head + "\n".join(sections)
    spec = repo / f"many-{executor}.agents.md"
    spec.write_text(text)
    run_id, report = _run(cluster, repo, spec)
    events = _events(repo, run_id)
    nodes = {meta.get("node") for type, _a, _t, meta in events if type == "agent_started"}
    started = {a: parse_timestamp(t) for type, a, t, _m in events if type == "agent_started"}
    longest = max(
        (parse_timestamp(t) - started[a]).total_seconds()
        for type, a, t, _m in events
        if type == "agent_finished"
    )
    wall = float(report["wall_s"])
    return {
        "agents": agents,
        "wall_s": wall,
        "longest_agent_s": round(longest, 3),
        "ratio": round(wall / longest, 3),
        "nodes": len(nodes),
    }


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_ray")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--chain", type=int, default=6)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--think", type=float, default=2.0)
    args = parser.parse_args(argv)
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="cpbench-", dir="/tmp") as folder:
            repo = make_repo(Path(folder), args.files)
            git(repo, "commit", "-q", "--allow-empty", "-m", "bench")
            local = start_latency(cluster, repo, args.chain, "local")
            remote = start_latency(cluster, repo, args.chain, "ray")
            many = many_agents(cluster, repo, args.agents, args.think, "ray")
            many_local = many_agents(cluster, repo, args.agents, args.think, "local")
    finally:
        cluster.stop()
    result = {
        "files": args.files,
        "start_local_median_s": round(statistics.median(local), 3),
        "start_ray_median_s": round(statistics.median(remote), 3),
        "start_added_ms": round((statistics.median(remote) - statistics.median(local)) * 1000),
        "start_ray_all_s": [round(x, 3) for x in remote],
        "many": many,
        "many_local": many_local,
    }
    print(
        f"start latency ({args.files} files): local {result['start_local_median_s']} s, ray {result['start_ray_median_s']} s (added {result['start_added_ms']} ms; target <= 300)"
    )
    print(
        f"{many['agents']} short agents on {many['nodes']} nodes: wall {many['wall_s']:.2f} s / longest agent "
        f"{many['longest_agent_s']:.2f} s = {many['ratio']:.2f} (target <= 1.15); locally (isolated, "
        f"same machine): wall {many_local['wall_s']:.2f} s"
    )
    print(json.dumps({"ray": result}))
    return result

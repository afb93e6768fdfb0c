"""The PostgreSQL column of `bench_eventlog`: the same appends through the real `EventLog` on a real
PostgreSQL server (started for the benchmark, as the tests start theirs: initdb + pg_ctl on a
loopback port, with its defaults: fsync and ``synchronous_commit`` on), in the same run as SQLite's,
and how soon a follower in another process (``counterpoint events --follow``) sees an appended
event, on both logs.

- stream: one producer calling `emit`, best of the rounds (each round a fresh database), beside
  SQLite's stream rate of the same rounds. Target: >= 0.5x SQLite's.
- 100 tasks awaiting each append, one task awaiting each (one commit an event: a round trip).
- follow latency: an event appended every 10 ms; the time from before its `append` to its line
  printed by the follower process, median and p90. Target (PostgreSQL): median <= 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from counterpoint.engine.log import EventLog, open_event_log

LINE = "compiling app/enrollment/mutations.py: 3 functions, 41 lines, no warnings"


class PgBench:
    """A server for the benchmark's rounds, each on a database of its own."""

    def __init__(self) -> None:
        from tests.support.postgres_server import shared_server

        self.server = shared_server(f"bench-{uuid.uuid4().hex[:8]}")
        self.stream: list[float] = []

    @classmethod
    def start(cls) -> PgBench | None:
        """None (with a line saying why) when there is no PostgreSQL to measure."""
        try:
            import psycopg  # noqa: F401

            return cls()
        except (ImportError, RuntimeError, OSError) as exc:
            print(f"postgresql: not measured ({exc})")
            return None

    def url(self) -> str:
        from tests.support.postgres_server import fresh_database

        return self.server.url(fresh_database(self.server))

    def stream_round(self, count: int) -> None:
        from counterpoint.engine.log.pg import PgBackend

        self.stream.append(asyncio.run(_stream(PgBackend(self.url()), count)))

    def figures(self, count: int, sqlite_stream: float, folder: Path) -> dict[str, Any]:
        from counterpoint.engine.log.pg import PgBackend

        tasks = asyncio.run(_tasks(PgBackend(self.url()), min(count, 50_000), 100))
        single = asyncio.run(_tasks(PgBackend(self.url()), 2_000, 1))
        pg_follow = asyncio.run(follow_latency(folder / "pg-ws", {"COUNTERPOINT_EVENTS_URL": self.url()}))
        sqlite_follow = asyncio.run(follow_latency(folder / "sqlite-ws", {}))
        best = max(self.stream)
        return {
            "appends_per_s": {"stream": round(best), "100_tasks": round(tasks), "one_awaited": round(single)},
            "stream_vs_sqlite": round(best / sqlite_stream, 3),
            "follow_ms": {"postgresql": pg_follow, "sqlite": sqlite_follow},
            "durability": "commit returns once the server has the batch (synchronous_commit on)",
            "targets_met": {
                "appends": best / sqlite_stream >= 0.5,
                "follow": pg_follow["median"] <= 50,
            },
        }

    def stop(self) -> None:
        from tests.support.postgres_server import release

        release(self.server)


async def _stream(backend: Any, count: int) -> float:
    log = await EventLog.open(backend)
    try:
        started = time.perf_counter()
        for i in range(count):
            log.emit("stream", "agent_output", "backend", None, {"line": LINE, "n": i})
            if i % 1000 == 999:
                await asyncio.sleep(0)
        await log.flush()
        return count / (time.perf_counter() - started)
    finally:
        await log.close()


async def _tasks(backend: Any, count: int, tasks: int) -> float:
    log = await EventLog.open(backend)
    per_task = count // tasks

    async def producer(t: int) -> None:
        for i in range(per_task):
            await log.append("tasks", "agent_output", f"agent{t}", None, {"line": LINE, "n": i})

    try:
        started = time.perf_counter()
        await asyncio.gather(*(producer(t) for t in range(tasks)))
        return per_task * tasks / (time.perf_counter() - started)
    finally:
        await log.close()


async def follow_latency(workspace: Path, extra_env: dict[str, str], events: int = 200) -> dict[str, float]:
    """Milliseconds from before an append to the follower process printing it: median and p90."""
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / ".git").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "COUNTERPOINT_EVENTS_URL"} | extra_env
    os.environ.update(extra_env)
    try:
        log = await open_event_log(workspace)
    finally:
        for key in extra_env:
            os.environ.pop(key, None)
    await log.append("warmup", "notice", None, None, {})
    follower = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "counterpoint",
        "events",
        "--follow",
        "--json",
        "--run",
        "R",
        "--workspace",
        str(workspace),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    assert follower.stdout is not None
    latencies: list[float] = []
    try:
        await log.append("R", "run_started", None, "bench", {})
        await asyncio.wait_for(follower.stdout.readline(), 60)
        for i in range(events):
            sent = time.perf_counter()
            await log.append("R", "agent_output", "a", None, {"i": i})
            line = await asyncio.wait_for(follower.stdout.readline(), 30)
            latencies.append(1000 * (time.perf_counter() - sent))
            assert json.loads(line)["metadata"]["i"] == i
            await asyncio.sleep(0.01)
        await log.append("R", "run_finished", None, "succeeded", {})
        await asyncio.wait_for(follower.wait(), 30)
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
        await log.close()
    ordered = sorted(latencies)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * len(ordered))], 2),
    }

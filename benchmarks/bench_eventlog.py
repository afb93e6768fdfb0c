"""Benchmark: event log append throughput and query latency at a million events.

Run with `python -m benchmarks eventlog [--appends 200000] [--events 1000000]`.

Appends go through the real `EventLog` (writer thread, group commits, WAL with
``synchronous=NORMAL``: a committed event survives the process being killed):

- stream: one producer calling `append_nowait` as fast as it can (as a run's
  scheduler and runners do), until everything is committed and delivered;
- 100 tasks: a hundred tasks each awaiting every append (group commit batches them);
- one awaited: a single task awaiting each append before the next (one commit per
  event: the baseline that group commits beat);
- raw: plain sqlite3 ``executemany`` of the same rows in transactions of 1,000 (no redaction,
  futures or delivery), in the same run. Target: stream >= 0.8x raw.

Query latency: a database of ``--events`` rows is written directly with
``executemany`` (runs of 2,000 events, half of them ``agent_output``), then
`query_events(run, "agent_output")` (what ``counterpoint events --run X --type Y``
runs; ~1,000 rows back) is timed over 100 random runs, beside the same SQL alone on one
connection. Target: median <= 2x SQL alone (and < 10 ms).
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from counterpoint.engine.eventlog import SCHEMA, EventLog, connect, query_events
from counterpoint_protocol.events import utc_timestamp

TYPES = [
    "agent_started",
    "tool_call",
    "file_written",
    "signal",
    "agent_finished",
    "usage",
    "notice",
    "finding",
]
LINE = "compiling app/enrollment/mutations.py: 3 functions, 41 lines, no warnings"


async def appends_stream(path: Path, count: int) -> float:
    log = await EventLog.open(path)
    try:
        started = time.perf_counter()
        for i in range(count):
            log.append_nowait("stream", "agent_output", "backend", None, {"line": LINE, "n": i})
            if i % 1000 == 999:
                await asyncio.sleep(0)  # let deliveries run, as a live loop would
        await log.flush()
        elapsed = time.perf_counter() - started
        assert log.appended >= count
    finally:
        await log.close()
    return count / elapsed


def raw_appends(path: Path, count: int, batch: int = 1000) -> float:
    """Plain sqlite3, same rows and durability: ``executemany`` in transactions of ``batch`` rows."""
    conn = connect(path)
    conn.executescript(SCHEMA)
    sql = "INSERT INTO events (run_id, type, actor, action, metadata, timestamp) VALUES (?, ?, ?, ?, ?, ?)"
    started = time.perf_counter()
    for first in range(0, count, batch):
        rows = [
            ("stream", "agent_output", "backend", None, json.dumps({"line": LINE, "n": i}), utc_timestamp())
            for i in range(first, min(count, first + batch))
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


async def appends_tasks(path: Path, count: int, tasks: int) -> float:
    log = await EventLog.open(path)
    per_task = count // tasks

    async def producer(t: int) -> None:
        for i in range(per_task):
            await log.append("tasks", "agent_output", f"agent{t}", None, {"line": LINE, "n": i})

    try:
        started = time.perf_counter()
        await asyncio.gather(*(producer(t) for t in range(tasks)))
        elapsed = time.perf_counter() - started
    finally:
        await log.close()
    return per_task * tasks / elapsed


def build_db(path: Path, total: int, per_run: int, seed: int) -> list[str]:
    """``total`` events in runs of ``per_run`` (half agent_output), inserted directly."""
    rng = random.Random(seed)
    conn = connect(path)
    conn.executescript(SCHEMA)
    runs = [f"20261127-{i:06d}-{rng.getrandbits(24):06x}" for i in range(max(1, total // per_run))]
    conn.execute("BEGIN")
    for run in runs:
        rows = []
        for i in range(per_run):
            kind = "agent_output" if i % 2 else TYPES[i // 2 % len(TYPES)]
            meta = json.dumps({"line": LINE, "n": i}) if kind == "agent_output" else '{"status": "ok"}'
            stamp = f"2026-11-27T21:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z"
            rows.append((run, kind, f"agent{i % 7}", None, meta, stamp))
        conn.executemany(
            "INSERT INTO events (run_id, type, actor, action, metadata, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return runs


def time_queries(path: Path, runs: list[str], samples: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    query_events(path, runs[0], "agent_output")  # warm the page cache once
    full, sql_only, counts = [], [], []
    conn = sqlite3.connect(path)
    sql = (
        "SELECT id, run_id, type, actor, action, metadata, timestamp FROM events "
        "WHERE id > ? AND run_id = ? AND type = ? ORDER BY id"
    )
    plan = " / ".join(
        row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (0, runs[0], "agent_output"))
    )
    for _ in range(samples):
        run = rng.choice(runs)
        started = time.perf_counter()
        events = query_events(path, run, "agent_output")
        full.append(time.perf_counter() - started)
        counts.append(len(events))
        started = time.perf_counter()
        conn.execute(sql, (0, run, "agent_output")).fetchall()
        sql_only.append(time.perf_counter() - started)
    conn.close()
    full.sort()
    sql_only.sort()

    def ms(values: list[float], q: float) -> float:
        return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 3)

    return {
        "rows_returned": int(statistics.median(counts)),
        "median_ms": round(1000 * statistics.median(full), 3),
        "p99_ms": ms(full, 0.99),
        "sql_only_median_ms": round(1000 * statistics.median(sql_only), 3),
        "sql_only_p99_ms": ms(sql_only, 0.99),
        "plan": plan,
    }


def print_table(result: dict[str, Any], events: int) -> None:
    appends, query = result["appends_per_s"], result["query"]
    ratios = result["ratios"]
    rows = [
        ("appends/s, plain sqlite3 executemany (raw)", f"{appends['raw_executemany']:,}", "(same run)"),
        ("appends/s, one producer (append_nowait)", f"{appends['stream']:,}", ">= 0.8x raw"),
        ("  ratio to raw", f"{ratios['appends_vs_raw']}x", ""),
        ("appends/s, 100 tasks awaiting each", f"{appends['100_tasks']:,}", ""),
        ("appends/s, one task awaiting each", f"{appends['one_awaited']:,}", "(baseline)"),
        (f"query run+type at {events:,} events, median", f"{query['median_ms']} ms", "< 10 ms"),
        ("  p99", f"{query['p99_ms']} ms", ""),
        ("  SQL alone (no Event objects), median", f"{query['sql_only_median_ms']} ms", "(same run)"),
        ("  ratio to SQL alone", f"{ratios['query_vs_sql_alone']}x", "<= 2x"),
        ("  rows returned", str(query["rows_returned"]), "~1,000"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for name, value, target in rows:
        print(f"{name.ljust(widths[0])} | {value.rjust(widths[1])} | {target}")
    print(f"query plan: {query['plan']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and a JSON line, return the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks eventlog", description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=200_000, help="events for the append stream")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the query database")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cp-bench-log-") as tmp:
        folder = Path(tmp)
        raw = raw_appends(folder / "raw.db", args.appends)
        stream = asyncio.run(appends_stream(folder / "stream.db", args.appends))
        tasks = asyncio.run(appends_tasks(folder / "tasks.db", min(args.appends, 50_000), 100))
        single = asyncio.run(appends_tasks(folder / "single.db", 3_000, 1))
        started = time.perf_counter()
        runs = build_db(folder / "big.db", args.events, 2000, args.seed)
        build_s = time.perf_counter() - started
        query = time_queries(folder / "big.db", runs, args.samples, args.seed)
    result = {
        "benchmark": "eventlog",
        "appends_per_s": {
            "raw_executemany": round(raw),
            "stream": round(stream),
            "100_tasks": round(tasks),
            "one_awaited": round(single),
        },
        "durability": "WAL, synchronous=NORMAL, group commit (committed = survives kill -9)",
        "query": {"events_in_db": args.events, "build_s": round(build_s, 1), **query},
        "ratios": {
            "appends_vs_raw": round(stream / raw, 3),
            "query_vs_sql_alone": round(query["median_ms"] / query["sql_only_median_ms"], 3),
        },
        "targets": {"appends_vs_raw": ">= 0.8", "query_vs_sql_alone": "<= 2.0", "query_median_ms": 10},
        "targets_met": {
            "appends": stream >= 0.8 * raw,
            "query": query["median_ms"] <= 2 * query["sql_only_median_ms"] and query["median_ms"] < 10,
        },
    }
    print_table(result, args.events)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

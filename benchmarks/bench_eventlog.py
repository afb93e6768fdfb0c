"""Benchmark: event log append throughput and query latency at a million events.

Run with `python -m benchmarks eventlog [--appends 200000] [--events 1000000]`.

Appends go through the real `EventLog` (writer thread, group commits, WAL with
``synchronous=NORMAL``: a committed event survives the process being killed):

- stream: one producer calling `emit` as fast as it can (as a run's scheduler and runners do:
  fire and forget, `flush` waits), until everything is committed and delivered;
- stream, waited: the same with `append_nowait`, whose future resolves with the stored event;
- 100 tasks: a hundred tasks each awaiting every append (group commit batches them);
- one awaited: a single task awaiting each append before the next (one commit per
  event: the baseline that group commits beat);
- raw: plain sqlite3 ``executemany`` of the same rows in transactions of 1,000, in the same run:
  same file set-up (schema, indexes, WAL, ``synchronous=NORMAL``), same JSON encoder and
  timestamps, but no redaction, futures, thread or delivery. Target: stream >= 0.8x raw.

Raw and stream alternate for ``--rounds`` rounds; each side's best round counts (a busy machine
slows rounds at random, never speeds one up). The CPU time of every thread per event is shown
beside it (ours runs on two threads: on a quiet machine the writer's share overlaps).

Query latency: a database of ``--events`` rows is written directly with
``executemany`` (runs of 2,000 events, half of them ``agent_output``), then
`query_events(run, "agent_output")` (what ``counterpoint events --run X --type Y``
runs; ~1,000 rows back) is timed over 100 random runs, beside the same SQL alone (its rows
fetched as tuples, what any reader must do) on a connection opened the same way, the two in
alternating order. Target: the query's CPU time (median) <= 2x its SQL alone's, and its wall
time < 10 ms. CPU time, because on a shared machine a wall-clock median mostly measures how often
the scheduler takes the core away, which happens more the longer a task runs; both are printed.
The PostgreSQL column (`eventlog_pg`, skipped with ``--no-postgres`` or when no server programs
are installed): the same stream on a real PostgreSQL server started for the benchmark, one round
beside each SQLite round (target: >= 0.5x SQLite's rate), 100 tasks and one task awaiting each
append, and how soon ``counterpoint events --follow`` in another process prints an appended event
on both logs (target: PostgreSQL median <= 50 ms).
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
from pathlib import Path
from typing import Any

from counterpoint.engine.log.fast import encode, stamp
from counterpoint.engine.log.schema import prepare
from counterpoint.engine.log.store import EventLog, connect, query_events

from benchmarks.eventlog_pg import PgBench

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


async def appends_stream(path: Path, count: int, waited: bool = False) -> tuple[float, float]:
    """Events/s and CPU µs/event (every thread) of one producer calling `emit` (or, ``waited``,
    `append_nowait`, whose future resolves with the stored event)."""
    log = await EventLog.open(path)
    append = log.append_nowait if waited else log.emit
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            append("stream", "agent_output", "backend", None, {"line": LINE, "n": i})
            if i % 1000 == 999:
                await asyncio.sleep(0)  # let deliveries run, as a live loop would
        await log.flush()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert log.appended >= count
    finally:
        await log.close()
    return count / elapsed, 1e6 * cpu / count


def raw_appends(path: Path, count: int, batch: int = 1000) -> tuple[float, float]:
    """Plain sqlite3, same rows, file and durability: ``executemany`` in transactions of ``batch``
    rows. Events/s and CPU µs/event."""
    conn = connect(path)
    prepare(conn, path)  # the schema, indexes and pragmas `EventLog.open` sets up
    sql = "INSERT INTO events (run_id, type, actor, action, metadata, timestamp) VALUES (?, ?, ?, ?, ?, ?)"
    started, cpu = time.perf_counter(), time.process_time()
    for first in range(0, count, batch):
        rows = [
            ("stream", "agent_output", "backend", None, encode({"line": LINE, "n": i}), stamp())
            for i in range(first, min(count, first + batch))
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return count / elapsed, 1e6 * cpu / count


async def appends_tasks(path: Path, count: int, tasks: int) -> float:
    """Events/s of ``tasks`` tasks each awaiting every append (group commits batch them)."""
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
    prepare(conn, path)
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
    """Wall and CPU (this thread) time of `query_events` and of its SQL alone, sample by sample."""
    rng = random.Random(seed + 1)
    query_events(path, runs[0], "agent_output")  # warm the page cache once
    wall: dict[str, list[float]] = {"query": [], "sql": []}
    cpu: dict[str, list[float]] = {"query": [], "sql": []}
    counts = []
    conn = connect(path, write=False)  # as `query_events` opens its reader
    sql = (
        "SELECT id, run_id, type, actor, action, metadata, timestamp FROM events "
        "WHERE id > ? AND run_id = ? AND type = ? ORDER BY id"
    )
    plan = " / ".join(
        row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (0, runs[0], "agent_output"))
    )
    for sample in range(samples):
        run = rng.choice(runs)
        for which in ("query", "sql") if sample % 2 else ("sql", "query"):  # neither reads the run first
            started, thread = time.perf_counter(), time.thread_time()
            if which == "query":
                counts.append(len(query_events(path, run, "agent_output")))
            else:
                conn.execute(sql, (0, run, "agent_output")).fetchall()
            wall[which].append(time.perf_counter() - started)
            cpu[which].append(time.thread_time() - thread)
    conn.close()

    def ms(values: list[float], q: float = 0.5) -> float:
        ordered = sorted(values)
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "rows_returned": int(statistics.median(counts)),
        "median_ms": ms(wall["query"]),
        "p99_ms": ms(wall["query"], 0.99),
        "cpu_median_ms": ms(cpu["query"]),
        "sql_only_median_ms": ms(wall["sql"]),
        "sql_only_p99_ms": ms(wall["sql"], 0.99),
        "sql_only_cpu_median_ms": ms(cpu["sql"]),
        "plan": plan,
    }


def print_table(result: dict[str, Any], events: int) -> None:
    appends, cpu, query = result["appends_per_s"], result["append_cpu_us"], result["query"]
    ratios = result["ratios"]
    rows = [
        ("appends/s, plain sqlite3 executemany (raw)", f"{appends['raw_executemany']:,}", "(same run)"),
        ("appends/s, one producer (emit)", f"{appends['stream']:,}", ">= 0.8x raw"),
        ("  ratio to raw (best rounds)", f"{ratios['appends_vs_raw']}x", ""),
        ("  CPU µs/event, raw / ours", f"{cpu['raw_executemany']} / {cpu['stream']}", ""),
        ("  CPU ratio (raw / ours)", f"{ratios['appends_cpu_vs_raw']}x", "(all threads)"),
        ("appends/s, one producer (append_nowait)", f"{appends['stream_waited']:,}", ""),
        ("  ratio to raw (best rounds)", f"{ratios['waited_vs_raw']}x", ""),
        ("appends/s, 100 tasks awaiting each", f"{appends['100_tasks']:,}", ""),
        ("appends/s, one task awaiting each", f"{appends['one_awaited']:,}", "(baseline)"),
        (f"query run+type at {events:,} events, median", f"{query['median_ms']} ms", "< 10 ms"),
        ("  p99", f"{query['p99_ms']} ms", ""),
        ("  SQL alone (rows as tuples), median", f"{query['sql_only_median_ms']} ms", "(same run)"),
        ("  ratio to SQL alone (wall)", f"{ratios['query_vs_sql_alone']}x", ""),
        ("  CPU ms, query / SQL alone", f"{query['cpu_median_ms']} / {query['sql_only_cpu_median_ms']}", ""),
        ("  CPU ratio to SQL alone", f"{ratios['query_cpu_vs_sql_alone']}x", "<= 2x"),
        ("  rows returned", str(query["rows_returned"]), "~1,000"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for name, value, target in rows:
        print(f"{name.ljust(widths[0])} | {value.rjust(widths[1])} | {target}")
    print(f"query plan: {query['plan']}")


def print_postgres(pg: dict[str, Any], sqlite_stream: float, sqlite_single: float) -> None:
    appends, follow = pg["appends_per_s"], pg["follow_ms"]
    rows = [
        ("", "SQLite", "PostgreSQL", "target"),
        ("appends/s, one producer (emit), best round", f"{sqlite_stream:,.0f}", f"{appends['stream']:,}", ""),
        ("  PostgreSQL / SQLite", "", f"{pg['stream_vs_sqlite']}x", ">= 0.5x"),
        ("appends/s, 100 tasks awaiting each", "", f"{appends['100_tasks']:,}", ""),
        ("appends/s, one task awaiting each", f"{sqlite_single:,.0f}", f"{appends['one_awaited']:,}", ""),
        (
            "events --follow sees an append, median / p90 ms",
            f"{follow['sqlite']['median']} / {follow['sqlite']['p90']}",
            f"{follow['postgresql']['median']} / {follow['postgresql']['p90']}",
            "PostgreSQL median <= 50 ms",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print(f"{row[0].ljust(widths[0])} | {row[1].rjust(widths[1])} | {row[2].rjust(widths[2])} | {row[3]}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and a JSON line, return the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks eventlog", description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=200_000, help="events for the append stream")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the query database")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw/stream append rounds")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL column")
    args = parser.parse_args(argv)
    pg = None if args.no_postgres else PgBench.start()
    postgres: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="cp-bench-log-") as tmp:
        folder = Path(tmp)
        raw, stream, waited = (0.0, float("inf")), (0.0, float("inf")), 0.0
        for turn in range(max(1, args.rounds)):  # each side's best rate and least CPU
            rate, us = raw_appends(folder / f"raw{turn}.db", args.appends)
            raw = (max(raw[0], rate), min(raw[1], us))
            rate, us = asyncio.run(appends_stream(folder / f"stream{turn}.db", args.appends))
            stream = (max(stream[0], rate), min(stream[1], us))
            rate, _ = asyncio.run(appends_stream(folder / f"waited{turn}.db", args.appends, waited=True))
            waited = max(waited, rate)
            if pg is not None:  # PostgreSQL's round beside SQLite's, in the same run
                pg.stream_round(args.appends)
        tasks = asyncio.run(appends_tasks(folder / "tasks.db", min(args.appends, 50_000), 100))
        single = asyncio.run(appends_tasks(folder / "single.db", 3_000, 1))
        if pg is not None:
            try:
                postgres = pg.figures(args.appends, stream[0], folder)
            finally:
                pg.stop()
        started = time.perf_counter()
        runs = build_db(folder / "big.db", args.events, 2000, args.seed)
        build_s = time.perf_counter() - started
        query = time_queries(folder / "big.db", runs, args.samples, args.seed)
    ratios = {
        "appends_vs_raw": round(stream[0] / raw[0], 3),
        "appends_cpu_vs_raw": round(raw[1] / stream[1], 3),
        "waited_vs_raw": round(waited / raw[0], 3),
        "query_vs_sql_alone": round(query["median_ms"] / query["sql_only_median_ms"], 3),
        "query_cpu_vs_sql_alone": round(query["cpu_median_ms"] / query["sql_only_cpu_median_ms"], 3),
    }
    result = {
        "benchmark": "eventlog",
        "appends_per_s": {
            "raw_executemany": round(raw[0]),
            "stream": round(stream[0]),
            "stream_waited": round(waited),
            "100_tasks": round(tasks),
            "one_awaited": round(single),
        },
        "append_cpu_us": {"raw_executemany": round(raw[1], 2), "stream": round(stream[1], 2)},
        "durability": "WAL, synchronous=NORMAL, group commit (committed = survives kill -9)",
        "query": {"events_in_db": args.events, "build_s": round(build_s, 1), **query},
        "ratios": ratios,
        "targets": {"appends_vs_raw": ">= 0.8", "query_cpu_vs_sql_alone": "<= 2.0", "query_median_ms": 10},
        "targets_met": {
            "appends": ratios["appends_vs_raw"] >= 0.8,
            "query": ratios["query_cpu_vs_sql_alone"] <= 2 and query["median_ms"] < 10,
        },
    }
    if postgres is not None:
        result["postgresql"] = postgres
    print_table(result, args.events)
    if postgres is not None:
        print_postgres(postgres, stream[0], single)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

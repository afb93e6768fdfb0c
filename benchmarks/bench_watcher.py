"""Benchmark: latency from a file write to the watcher's callback, quiet and behind a burst.

Run with `python -m benchmarks.bench_watcher [--samples N] [--burst-files N] ...`. Each scenario
uses a fresh temporary workspace with an `app/` folder and a `.gitignore` holding `build/`; a
sample writes `app/probe.txt` and times until the callback reports it. Bursts are made by a
separate process that keeps creating files (in batches of `--burst-files` per folder) in an
ignored folder while the samples are taken: `node_modules/` at the top level, or `app/build/`
(a nested, gitignored folder, whose events do reach the Rust side). For comparison the same
is measured with watchfiles' `awatch` on its defaults.

Start-up (`--startup-files 50000,500000`, files in folders of 25): in a repository of that size
with one signal glob, the time from `FileSignalSource.begin` to ready (watches active, catch-up
scan done) against a bare recursive `RustNotify` watch of the same tree (ratio; target < 2), and
in a real run (`Engine`) the time from the run's start to `agent_started` of an agent that needs
nothing (target: as with no signals, whatever the size), and the RSS each watch adds. The empty
files are made by a child process (`--startup-dir` picks the disk; 500k files take ~5 s idle).
Prints tables and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from counterpoint.engine.watch import FileSignalSource
from counterpoint.engine.watch.watcher import (
    DEFAULT_DEBOUNCE_MS,
    DEFAULT_STEP_MS,
    FileChange,
    WorkspaceWatcher,
)

OnPaths = Callable[[list[Path]], None]

BURST_SCRIPT = """
import os, sys
base, per_folder = sys.argv[1], int(sys.argv[2])
os.makedirs(base, exist_ok=True)
batch = 0
while True:
    folder = os.path.join(base, f"burst{batch}")
    os.mkdir(folder)
    for i in range(per_folder):
        fd = os.open(os.path.join(folder, f"f{i}.js"), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x")
        os.close(fd)
        if i % 250 == 0:
            print(batch * per_folder + i, flush=True)
    batch += 1
"""


@contextlib.asynccontextmanager
async def counterpoint_watcher(root: Path, on_paths: OnPaths, step: int, debounce: int) -> Any:
    """Our WorkspaceWatcher, reporting changed paths."""

    def on_changes(changes: list[FileChange]) -> None:
        on_paths([c.path for c in changes])

    watcher = WorkspaceWatcher(root, on_changes, step_ms=step, debounce_ms=debounce)
    await watcher.start()
    try:
        yield
    finally:
        await watcher.stop()


@contextlib.asynccontextmanager
async def default_awatch(root: Path, on_paths: OnPaths, step: int, debounce: int) -> Any:
    """watchfiles.awatch with its defaults (step 50 ms, debounce 1600 ms, DefaultFilter)."""
    from watchfiles import awatch

    stop = asyncio.Event()
    ready = asyncio.Event()

    async def run() -> None:
        iterator = awatch(root, stop_event=stop).__aiter__()
        first = asyncio.ensure_future(iterator.__anext__())
        await asyncio.sleep(0.3)  # awatch has no "watching now" signal; give it time to start
        ready.set()
        try:
            changes = await first
            while True:
                on_paths([Path(p) for _, p in changes])
                changes = await iterator.__anext__()
        except StopAsyncIteration:
            pass

    task = asyncio.create_task(run())
    await ready.wait()
    try:
        yield
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def burst(root: Path, where: str | None, per_folder: int) -> AsyncIterator[list[int]]:
    """Keep creating files under `root/where` in a child process while the body runs.

    Yields a one-item list holding how many files have been created so far.
    """
    if where is None:
        yield [0]
        return
    base = root / where
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BURST_SCRIPT,
        str(base),
        str(per_folder),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    stdout = proc.stdout
    await stdout.readline()  # the burst is under way
    count = [0]

    async def follow() -> None:
        while line := await stdout.readline():
            count[0] = int(line)

    follower = asyncio.create_task(follow())
    try:
        yield count
    finally:
        proc.kill()
        await proc.wait()
        await follower
        count[0] = sum(1 for _ in base.rglob("*.js"))


def make_workspace(tmp: str) -> tuple[Path, Path]:
    """A workspace with app/, node_modules/ and a .gitignore of build/; returns (root, probe)."""
    root = Path(tmp).resolve()
    (root / "app" / "build").mkdir(parents=True)
    (root / "node_modules").mkdir()
    (root / ".gitignore").write_text("build/\n")
    probe = root / "app" / "probe.txt"
    probe.write_text("start")
    return root, probe


async def measure(
    watcher_factory: Any, samples: int, burst_at: str | None, per_folder: int, step: int, deb: int
) -> dict[str, Any]:
    """Write→callback latencies (ms) for `samples` writes of app/probe.txt."""
    with tempfile.TemporaryDirectory(prefix="cp-bench-watch-") as tmp:
        root, probe = make_workspace(tmp)
        pending: dict[str, Any] = {}

        def on_paths(paths: list[Path]) -> None:
            now = time.perf_counter()
            waiter = pending.get("future")
            if waiter is not None and not waiter.done() and probe in paths:
                waiter.set_result(now)

        latencies: list[float] = []
        missed = 0
        loop = asyncio.get_running_loop()
        async with watcher_factory(root, on_paths, step, deb):
            await asyncio.sleep(0.1)
            async with burst(root, burst_at, per_folder) as burst_count:
                started = time.perf_counter()
                i = 0
                # Sample at least `samples` times, and on until a whole burst has been written.
                while i < samples or (burst_at is not None and burst_count[0] < per_folder):
                    i += 1
                    future: asyncio.Future[float] = loop.create_future()
                    pending["future"] = future
                    t0 = time.perf_counter()
                    probe.write_text(f"sample {i}")
                    try:
                        t1 = await asyncio.wait_for(future, timeout=5.0)
                        latencies.append((t1 - t0) * 1000)
                    except TimeoutError:
                        missed += 1
                    await asyncio.sleep(random.uniform(0.005, 0.015))
                elapsed = time.perf_counter() - started
            await asyncio.sleep(0.05)
    latencies.sort()
    return {
        "samples": len(latencies),
        "missed": missed,
        "median_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)
        if latencies
        else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "burst_files": burst_count[0],
        "seconds": round(elapsed, 2),
        "burst_files_per_s": round(burst_count[0] / elapsed) if elapsed else 0,
    }


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    scenarios: list[tuple[str, Any, int, str | None]] = [
        ("counterpoint quiet", counterpoint_watcher, args.samples, None),
        ("counterpoint burst node_modules/", counterpoint_watcher, args.samples, "node_modules"),
        ("counterpoint burst app/build/ (nested)", counterpoint_watcher, args.samples, "app/build"),
    ]
    if args.default_samples > 0:
        scenarios += [
            ("watchfiles defaults quiet", default_awatch, args.default_samples, None),
            (
                "watchfiles defaults burst node_modules/",
                default_awatch,
                args.default_samples,
                "node_modules",
            ),
        ]
    results: dict[str, Any] = {}
    for name, factory, samples, where in scenarios:
        results[name] = await measure(factory, samples, where, args.burst_files, args.step, args.debounce)
    return results


MAKE_TREE_SCRIPT = """
import os, sys
src, files, per_folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
flags = os.O_CREAT | os.O_WRONLY
os.mkdir(src)
for folder in range((files + per_folder - 1) // per_folder):
    if folder % 50 == 0:
        os.mkdir(f"{src}/pkg{folder // 50}")
    path = f"{src}/pkg{folder // 50}/mod{folder}"
    os.mkdir(path)
    for i in range(min(per_folder, files - folder * per_folder)):
        os.close(os.open(f"{path}/f{i}.py", flags, 0o644))
"""


def make_repository(root: Path, files: int, per_folder: int = 25) -> None:
    """`files` empty files in folders of `per_folder`, 50 folders per package, plus a spec.

    The files are made by a child process in a tight `os.open`/`os.close` loop (empty files: no
    data to write back), about 5 s for 500k files here, where `Path.write_text` took minutes.
    """
    (root / ".git").mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-c", MAKE_TREE_SCRIPT, str(root / "src"), str(files), str(per_folder)],
        check=True,
    )
    (root / "think.jsonl").write_text(json.dumps({"action": "think", "seconds": 0.01}) + "\n")
    agents = "## first\nrunner: replay\ntranscript: think.jsonl\n- needs nothing\n"
    for name, signals in (("signals", "signals:\n  schema_ready: app/schema.py\n"), ("none", "")):
        (root / f"{name}.agents.md").write_text(f"---\nfeature: Start\n{signals}---\n# Start\n\n{agents}")


async def first_agent_start(root: Path, spec_name: str) -> float:
    """Seconds from the run's start to `agent_started` of its agent needing nothing."""
    from counterpoint.engine.engine import Engine, read_spec
    from counterpoint.engine.run import RunOptions

    spec = await read_spec(root / spec_name)
    engine = await Engine.open(root)
    try:
        run = engine.create_run(spec, RunOptions())
        started: list[float] = []
        unsubscribe = engine.log.subscribe(
            lambda event: started.append(time.perf_counter()) if event.type == "agent_started" else None
        )
        began = time.perf_counter()
        await engine.execute(run)
        unsubscribe()
    finally:
        await engine.aclose()
    return started[0] - began


def rss_mb() -> float:
    """This process's resident set now, in MB (Linux /proc; the peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def startup(files: int, repeats: int, where: str | None = None) -> dict[str, Any]:
    """Watcher ready vs a bare recursive watch, and the first agent's start, at `files` files."""
    from watchfiles._rust_notify import RustNotify

    with tempfile.TemporaryDirectory(prefix="cp-bench-start-", dir=where) as tmp:
        root = Path(tmp).resolve()
        began = time.perf_counter()
        await asyncio.to_thread(make_repository, root, files)
        tree_s = time.perf_counter() - began
        ratios: list[float] = []
        bare_s: list[float] = []
        ready_s: list[float] = []
        bare_rss: list[float] = []
        ready_rss: list[float] = []
        for _ in range(repeats):
            before = rss_mb()
            began = time.perf_counter()
            notify = await asyncio.to_thread(RustNotify, [str(root)], False, False, 50, True, True)
            bare = time.perf_counter() - began
            bare_rss.append(rss_mb() - before)
            notify.close()
            source = FileSignalSource(root, root, {"schema_ready": ["app/schema.py"]}, lambda n, m: None)
            before = rss_mb()
            began = time.perf_counter()
            await source.begin()
            await source.ready()
            ready = time.perf_counter() - began
            ready_rss.append(rss_mb() - before)
            await source.stop()
            bare_s.append(bare)
            ready_s.append(ready)
            ratios.append(ready / bare)
        await first_agent_start(root, "none.agents.md")  # warm-up: imports, first database
        with_signals = statistics.median(
            [await first_agent_start(root, "signals.agents.md") for _ in range(repeats)]
        )
        without = statistics.median([await first_agent_start(root, "none.agents.md") for _ in range(repeats)])
    return {
        "files": files,
        "folders": -(-files // 25) + -(-files // (25 * 50)) + 1,
        "tree_s": round(tree_s, 1),
        "bare_watch_s": round(statistics.median(bare_s), 3),
        "ready_s": round(statistics.median(ready_s), 3),
        "ready_vs_bare": round(statistics.median(ratios), 2),
        "bare_rss_mb": round(statistics.median(bare_rss), 1),
        "ready_rss_mb": round(statistics.median(ready_rss), 1),
        "process_rss_mb": round(rss_mb(), 1),
        "first_agent_s_with_signal": round(with_signals, 3),
        "first_agent_s_no_signals": round(without, 3),
    }


def print_startup(rows: list[dict[str, Any]]) -> None:
    print("start-up (targets: ready / bare watch < 2; first agent as fast with a signal as without)")
    columns = list(rows[0]) if rows else []
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))


def print_table(results: dict[str, Any], args: argparse.Namespace) -> None:
    """A human table (rich if available)."""
    title = (
        f"write -> callback latency (step {args.step} ms, debounce {args.debounce} ms; "
        "targets: median < 30 ms, p99 < 100 ms)"
    )
    columns = ["scenario", "samples", "missed", "median ms", "p99 ms", "max ms", "burst files"]
    rows = [
        [
            name,
            r["samples"],
            r["missed"],
            r["median_ms"],
            r["p99_ms"],
            r["max_ms"],
            r["burst_files"],
        ]
        for name, r in results.items()
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(str(cell) for cell in row))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    console.print(table)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and a JSON line, return the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_watcher")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--default-samples",
        type=int,
        default=20,
        help="samples for the watchfiles-defaults comparison (0 skips it)",
    )
    parser.add_argument("--burst-files", type=int, default=10_000, help="files per burst folder")
    parser.add_argument("--step", type=int, default=DEFAULT_STEP_MS)
    parser.add_argument("--debounce", type=int, default=DEFAULT_DEBOUNCE_MS)
    parser.add_argument(
        "--startup-files", default="50000,500000", help="repository sizes for start-up ('' skips it)"
    )
    parser.add_argument("--startup-repeats", type=int, default=3)
    parser.add_argument(
        "--startup-dir", default=None, help="where start-up trees are made (default: the temp dir)"
    )
    args = parser.parse_args(argv)
    results = asyncio.run(run_all(args)) if args.samples > 0 else {}
    if results:
        print_table(results, args)
    sizes = [int(n) for n in args.startup_files.split(",") if n.strip()]
    startups = [asyncio.run(startup(n, args.startup_repeats, args.startup_dir)) for n in sizes]
    if startups:
        print_startup(startups)
    output = {
        "benchmark": "watcher",
        "step_ms": args.step,
        "debounce_ms": args.debounce,
        "results": results,
        "startup": startups,
    }
    print(json.dumps(output))
    return output


if __name__ == "__main__":
    main()

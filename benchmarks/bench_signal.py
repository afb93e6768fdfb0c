"""Benchmark: file event to signal, end to end through the engine.

One run of a spec whose agents each need their own signal, fired by their own file
(`signals: s17: "t/17.txt"`). Each sample writes one file and times, from the write, the
`signal` event and the dependent agent's `agent_started` event as the event log delivers
them (committed). Quiet, and while a child process creates 10,000+ files in `node_modules/`.
Targets: median under 30 ms, p99 under 100 ms in both cases.

``python -m benchmarks signal [--samples N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunOptions
from counterpoint_protocol.events import Event

from benchmarks.bench_watcher import burst


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def make_spec(root: Path, samples: int) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "t").mkdir()
    (root / "node_modules").mkdir()
    (root / "idle.jsonl").write_text('{"action": "think", "seconds": 0.01}\n')
    # A long-running agent keeps the run live while the samples wait on their files (a run with
    # nothing left running that could write a watched file ends its waiting agents as blocked).
    (root / "keeper.jsonl").write_text('{"action": "think", "seconds": 600}\n')
    signals = "\n".join(f'  s{i}: "t/{i}.txt"' for i in range(samples))
    agents = "\n".join(f"## a{i}\nneeds: s{i}\ntranscript: idle.jsonl\n" for i in range(samples))
    agents += "\n## keeper\ntranscript: keeper.jsonl\n"
    spec = root / "signal.agents.md"
    spec.write_text(f"---\nrunner: replay\nsignals:\n{signals}\n---\n# Signals\n\n{agents}")
    return spec


async def scenario(samples: int, burst_in: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec_path = make_spec(root, samples)
        spec = await read_spec(spec_path)
        engine = await Engine.open(root)
        seen: dict[tuple[str, str], float] = {}
        waiters: dict[tuple[str, str], asyncio.Future[float]] = {}

        def on_event(event: Event) -> None:
            key = (event.type, event.action if event.type == "signal" else (event.actor or ""))
            now = time.perf_counter()
            seen[key] = now
            future = waiters.pop(key, None)
            if future is not None and not future.done():
                future.set_result(now)

        async def wait(key: tuple[str, str]) -> float:
            if key in seen:
                return seen[key]
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            waiters[key] = future
            return await asyncio.wait_for(future, 10)

        engine.log.subscribe(on_event)
        run = engine.create_run(spec, RunOptions(max_parallel=samples + 1))
        task = asyncio.ensure_future(engine.execute(run))
        await asyncio.sleep(1.0)  # the watcher is up and every agent waits
        to_signal: list[float] = []
        to_start: list[float] = []
        missed = 0
        async with burst(root, burst_in, 2000) as count:
            if burst_in:
                await asyncio.sleep(0.5)
            for i in range(samples):
                await asyncio.sleep(0.02)
                t0 = time.perf_counter()
                await asyncio.to_thread((root / "t" / f"{i}.txt").write_text, f"{i}\n")
                try:
                    fired = await wait(("signal", f"s{i}"))
                    started = await wait(("agent_started", f"a{i}"))
                except TimeoutError:
                    missed += 1
                    continue
                to_signal.append((fired - t0) * 1000)
                to_start.append((started - t0) * 1000)
            burst_files = count[0]
        run.cancel()
        await task
        await engine.aclose()
    return {
        "samples": len(to_signal),
        "missed": missed,
        "burst_files": burst_files,
        "signal_median_ms": statistics.median(to_signal),
        "signal_p99_ms": percentile(to_signal, 99),
        "started_median_ms": statistics.median(to_start),
        "started_p99_ms": percentile(to_start, 99),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_signal")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)

    async def both() -> dict[str, Any]:
        return {
            "quiet": await scenario(args.samples, None),
            "burst node_modules/": await scenario(args.samples, "node_modules"),
        }

    result = asyncio.run(both())
    print(
        f"{'scenario':<22} {'signal median/p99 ms':>22} {'agent_started median/p99 ms':>30} {'burst files':>12}"
    )
    for name, r in result.items():
        print(
            f"{name:<22} {r['signal_median_ms']:>10.1f}/{r['signal_p99_ms']:<10.1f} "
            f"{r['started_median_ms']:>15.1f}/{r['started_p99_ms']:<14.1f} {r['burst_files']:>12}"
        )
    print("targets: median < 30 ms, p99 < 100 ms")
    print(json.dumps({"bench": "signal", **result}))
    return result


if __name__ == "__main__":
    main()

"""Load scenarios through a real in-process `Engine` (shared by the tests and the benchmark).

- `many_agents`: one run of N agents at once (half replay ``think``, half ``sleep`` commands);
- `runs_in_a_row`: N runs one after another in one Engine, open files and RSS measured;
- `file_storm`: 10,000 files in ``node_modules`` and 2,000 in a watched folder during a run;
- `flood`: a command agent writing 100 MB without newlines, binary included.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psutil
from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunOptions


class Sampler:
    """Peak RSS and open files of this process while a block runs."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.peak_rss = 0
        self.peak_fds = 0
        self.max_lag = 0.0
        """Longest the event loop was late for a 20 ms tick (how responsive the server stayed)."""
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self.me.memory_info().rss)
        self.peak_fds = max(self.peak_fds, self.me.num_fds())

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.sample()
            before = loop.time()
            await asyncio.sleep(0.02)
            self.max_lag = max(self.max_lag, loop.time() - before - 0.02)

    async def __aenter__(self) -> Sampler:
        self.sample()
        self._task = asyncio.ensure_future(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.sample()


def write_workspace(
    folder: Path, text: str, transcripts: dict[str, list[dict[str, Any]]] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)
    for name, steps in (transcripts or {}).items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    spec = folder / "load.agents.md"
    spec.write_text(text)
    return spec


def many_agents_spec(folder: Path, count: int) -> Path:
    sections = []
    for i in range(count):
        if i % 2:
            sections.append(f"## cmd{i}\nrunner: command\ncommand: sleep 0.5 && echo done{i}\n- wait\n")
        else:
            sections.append(f"## replay{i}\ntranscript: think.jsonl\n- think\n")
    text = "---\nfeature: Many agents\nrunner: replay\n---\n# Many\n\n" + "\n".join(sections)
    return write_workspace(folder, text, {"think": [{"action": "think", "seconds": 0.5}]})


async def run_once(engine: Engine, spec_path: Path, **options: Any) -> tuple[str, dict[str, Any]]:
    spec = await read_spec(spec_path)
    assert not spec.has_errors, [d.message for d in spec.diagnostics if d.severity == "error"]
    run = engine.create_run(spec, RunOptions(trust=True, **options))
    report = await engine.execute(run)
    return run.result_status, report


async def many_agents(folder: Path, count: int = 200) -> dict[str, Any]:
    spec = many_agents_spec(folder, count)
    engine = await Engine.open(folder)
    try:
        async with Sampler() as sampler:
            started = time.monotonic()
            status, report = await run_once(engine, spec)
            elapsed = time.monotonic() - started
    finally:
        await engine.aclose()
    statuses = [a["status"] for a in report["agents"]]
    return {
        "agents": count,
        "status": status,
        "succeeded": statuses.count("succeeded"),
        "seconds": round(elapsed, 2),
        "parallelism": report["parallelism"],
        "peak_rss_mb": round(sampler.peak_rss / 1e6, 1),
        "peak_open_files": sampler.peak_fds,
    }


async def runs_in_a_row(folder: Path, runs: int = 20) -> dict[str, Any]:
    """``runs`` runs of a small spec (replay + command agents, a signal) in one Engine."""
    text = (
        "---\nfeature: Row\nrunner: replay\nsignals:\n  out_ready: out/*.txt\n---\n# Row\n\n"
        "## writer\ntranscript: writer.jsonl\n- write\n\n"
        "## reader\nneeds: out_ready\nrunner: command\ncommand: cat out/a.txt\n- read\n\n"
        "## thinker\ntranscript: think.jsonl\n- think\n"
    )
    spec = write_workspace(
        folder,
        text,
        {
            "writer": [{"action": "write_file", "path": "out/a.txt", "content": "hello\n"}],
            "think": [{"action": "think", "seconds": 0.05}],
        },
    )
    me = psutil.Process()
    engine = await Engine.open(folder)
    statuses = []
    samples: list[tuple[int, int]] = []
    try:
        for i in range(runs):
            (folder / "out" / "a.txt").unlink(missing_ok=True)
            status, _report = await run_once(engine, spec)
            statuses.append(status)
            await asyncio.sleep(0.05)  # let closed transports and threads settle
            samples.append((me.num_fds(), me.memory_info().rss))
            if i == 1:
                baseline = samples[-1]
    finally:
        await engine.aclose()
    fds_after, rss_after = samples[-1]
    return {
        "runs": runs,
        "succeeded": statuses.count("succeeded"),
        "open_files_after_2": baseline[0],
        "open_files_after_all": fds_after,
        "rss_mb_after_2": round(baseline[1] / 1e6, 1),
        "rss_mb_after_all": round(rss_after / 1e6, 1),
        "fd_growth": fds_after - baseline[0],
        "rss_growth_mb": round((rss_after - baseline[1]) / 1e6, 1),
    }


STORM_SCRIPT = """
import os
for i in range(10000):
    d = os.path.join("node_modules", f"pkg{i % 500}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.js"), "w") as fh:
        fh.write("x")
os.makedirs(os.path.join("src", "gen"), exist_ok=True)
for i in range(2000):
    with open(os.path.join("src", "gen", f"m{i}.py"), "w") as fh:
        fh.write("x = 1\\n")
with open(os.path.join("src", "ready.flag"), "w") as fh:
    fh.write("ok")
print("storm done")
"""


async def file_storm(folder: Path, python: str) -> dict[str, Any]:
    text = (
        "---\nfeature: Storm\nsignals:\n  gen_ready: src/gen/*.py\n  flag: src/ready.flag\n---\n# Storm\n\n"
        f"## installer\nrunner: command\ncommand: {python} storm.py\n- npm install, sort of\n\n"
        "## waiter\nrunner: replay\nneeds: gen_ready, flag\ntranscript: think.jsonl\n- after the storm\n"
    )
    spec = write_workspace(folder, text, {"think": [{"action": "think", "seconds": 0.05}]})
    (folder / "storm.py").write_text(STORM_SCRIPT)
    engine = await Engine.open(folder)
    try:
        started = time.monotonic()
        async with Sampler() as sampler:
            status, report = await asyncio.wait_for(run_once(engine, spec), 60)
        elapsed = time.monotonic() - started
    finally:
        await engine.aclose()
    return {
        "status": status,
        "signals": sorted(s["name"] for s in report["signals"]),
        "seconds": round(elapsed, 2),
        "node_modules_files": sum(1 for _ in (folder / "node_modules").rglob("*.js")),
        "watched_files": sum(1 for _ in (folder / "src" / "gen").glob("*.py")),
        "peak_rss_mb": round(sampler.peak_rss / 1e6, 1),
        "max_loop_lag_ms": round(sampler.max_lag * 1000, 1),
    }


FLOOD_SCRIPT = """
import os, sys
chunk = (bytes(range(256)).replace(b"\\n", b"") * 4096)[:1 << 20]
out = sys.stdout.buffer
for _ in range(100):
    out.write(chunk)
out.flush()
"""


async def flood(folder: Path, python: str) -> dict[str, Any]:
    """A command agent writes 100 MB of binary without a newline: it ends, RSS stays bounded."""
    text = (
        f"---\nfeature: Flood\n---\n# Flood\n\n## flooder\nrunner: command\ncommand: {python} flood.py\n"
        "timeout: 60s\n- flood\n"
    )
    spec = write_workspace(folder, text)
    (folder / "flood.py").write_text(FLOOD_SCRIPT)
    engine = await Engine.open(folder)
    try:
        async with Sampler() as sampler:
            before = sampler.peak_rss
            status, report = await run_once(engine, spec)
        outputs = await engine.events(report["run_id"], "agent_output")
    finally:
        await engine.aclose()
    longest = max((len(str(e.metadata)) for e in outputs), default=0)
    return {
        "status": status,
        "agent": report["agents"][0]["status"],
        "rss_growth_mb": round((sampler.peak_rss - before) / 1e6, 1),
        "output_events": len(outputs),
        "longest_output_event": longest,
    }

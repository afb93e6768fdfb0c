"""Benchmark: ten LLM agents against one, on a loopback fake server with a fixed latency.

Run with `python -m benchmarks.bench_llm [--agents 10] [--latency 0.25] [--tokens 200]
[--repeats 3] [--flavors openai,anthropic]`. The fake (tests/llm/fake_llm_server.py) runs
in its own process, so the CPU time measured here is Counterpoint's alone. Each agent
makes three requests (write a file, emit a signal, a final answer), each answered after
``--latency`` seconds with ``--tokens`` streamed text deltas. Figures, per flavor:

- wall time of N agents vs one agent alone (target: < 1.3x),
- the share of prompt tokens the server served from its (emulated) prompt cache, which is
  the shared prefix (system text + shared context + tools) for every request but the first,
- Counterpoint's CPU time per streamed token (per SSE delta received).

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from counterpoint.engine.log import EventLog
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.run.budget import RunBudget
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "llm" / "fake_llm_server.py"
RULES = "".join(f"- Rule {i}: keep module {i} small, typed and tested; no globals.\n" for i in range(120))


class FakeProcess:
    """The fake server in a child process; ``stats()`` asks it for its counters."""

    def __init__(self, flavor: str, latency: float, tokens: int, token_rate: float) -> None:
        command = [sys.executable, str(FAKE), "--flavor", flavor, "--latency", str(latency)]
        command += ["--tokens", str(tokens), "--token-rate", str(token_rate)]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        result: dict[str, int] = json.loads(self.proc.stdout.readline())
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def make_spec(folder: Path, agents: int) -> Spec:
    specs = []
    for i in range(agents):
        name = f"agent-{i:02d}"
        where = SourceRange.on_line(i * 3, 0, len(name) + 3)
        specs.append(
            AgentSpec(
                name=name,
                settings=AgentSettings(runner="llm", model="openai:gpt-4o-mini", emits=[f"{name}-done"]),
                task=f"Write out/{name}.txt, then emit {name}-done.",
                heading_range=where,
                name_range=where,
                section_end_line=i * 3 + 2,
            )
        )
    return Spec(path=str(folder / "bench.agents.md"), agents=specs)


def settings_for(flavor: str, url: str) -> dict[str, Any]:
    if flavor == "openai":
        return {"openai_base_url": url, "openai_api_key": "bench"}
    return {"anthropic_base_url": url.removesuffix("/v1"), "anthropic_api_key": "bench"}


async def one_run(flavor: str, fake: FakeProcess, agents: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cp-bench-llm-") as tmp:
        folder = Path(tmp)
        (folder / "AGENTS.md").write_text(RULES)
        spec = make_spec(folder, agents)
        if flavor == "anthropic":
            for agent in spec.agents:
                agent.settings.model = "anthropic:claude-haiku-4-5"
        log = await EventLog.open(folder / ".counterpoint" / "events.db")
        extra = {"llm_settings": settings_for(flavor, fake.url), "budget": RunBudget(None)}
        run = Run(spec, log, folder, RunOptions(watch=False, extra=extra))
        before = fake.stats()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        status = await run.execute()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        after = fake.stats()
        usage = [e.metadata for e in await log.query(run.run_id, "usage")]
        await log.close()
        written = sum(1 for _ in (folder / "out").glob("*.txt")) if (folder / "out").is_dir() else 0
    if status != "succeeded" or written != agents:
        raise RuntimeError(f"{flavor} run with {agents} agents: {status}, {written} files written")
    prompt = sum(u["input_tokens"] for u in usage)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "deltas": after["deltas"] - before["deltas"],
        "requests": after["requests"] - before["requests"],
        "prompt_tokens": prompt,
        "cached_tokens": sum(u["cache_read_tokens"] for u in usage),
    }


async def measure(
    flavor: str, agents: int, latency: float, tokens: int, token_rate: float, repeats: int
) -> dict[str, Any]:
    fake = FakeProcess(flavor, latency, tokens, token_rate)
    try:
        await one_run(flavor, fake, 1)  # warm up imports and the connection path
        singles = [await one_run(flavor, fake, 1) for _ in range(repeats)]
        many = [await one_run(flavor, fake, agents) for _ in range(repeats)]
    finally:
        fake.close()
    single_wall = statistics.median(r["wall_s"] for r in singles)
    many_wall = statistics.median(r["wall_s"] for r in many)
    prompt = sum(r["prompt_tokens"] for r in many)
    cached = sum(r["cached_tokens"] for r in many)
    deltas = sum(r["deltas"] for r in many)
    cpu = sum(r["cpu_s"] for r in many)
    return {
        "flavor": flavor,
        "stream": f"{token_rate:g} tok/s" if token_rate else "burst",
        "agents": agents,
        "latency_s": latency,
        "requests_per_run": many[0]["requests"],
        "one_agent_wall_s": round(single_wall, 3),
        "n_agents_wall_s": round(many_wall, 3),
        "wall_ratio": round(many_wall / single_wall, 3),
        "cached_prompt_share": round(cached / prompt, 3) if prompt else 0.0,
        "streamed_tokens_per_run": many[0]["deltas"],
        "cpu_us_per_token": round(cpu / deltas * 1e6, 1) if deltas else 0.0,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'flavor':<10} {'stream':>11} {'agents':>6} {'1 agent s':>10} {'N agents s':>11} {'ratio':>6} "
    head += f"{'cached share':>13} {'tokens/run':>11} {'CPU us/token':>13}"
    print(head)
    for r in rows:
        print(
            f"{r['flavor']:<10} {r['stream']:>11} {r['agents']:>6} {r['one_agent_wall_s']:>10.3f} {r['n_agents_wall_s']:>11.3f} "
            f"{r['wall_ratio']:>6.2f} {r['cached_prompt_share']:>13.1%} {r['streamed_tokens_per_run']:>11} "
            f"{r['cpu_us_per_token']:>13.1f}"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and a JSON line, return the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--token-rate", type=float, default=100.0, help="deltas/s per stream (0: burst only)")
    parser.add_argument("--tokens", type=int, default=40, help="words of text per response")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flavors", default="openai,anthropic")
    args = parser.parse_args(argv)
    rows = []
    rates = [args.token_rate, 0.0] if args.token_rate else [0.0]
    for flavor in args.flavors.split(","):
        for rate in rates:
            figures = measure(flavor.strip(), args.agents, args.latency, args.tokens, rate, args.repeats)
            rows.append(asyncio.run(figures))
    print_table(rows)
    result = {"benchmark": "llm", "target_wall_ratio": 1.3, "rows": rows}
    result["target_met"] = all(r["wall_ratio"] < 1.3 for r in rows if r["stream"] != "burst")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

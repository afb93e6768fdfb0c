"""Language-server benchmark: responsiveness under load, start-up time and memory.

- Request latency (hover and completion) idle vs while 50 agents stream output at
  100 lines/s each (replay agents: in-process streaming, like LLM agents): median, p99,
  and the ratio p99 under load / p99 idle (target <= 3x).
- Time from process start to the `initialize` response, as a ratio to a bare pygls
  server started the same way (target <= 1.3x).
- Server RSS with 100 agents live (target < 150 MB).

``python -m benchmarks lsp [--samples N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

HERE = Path(__file__).resolve().parent


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def make_workspace(root: Path, agents: int, lines: int, interval: float, think: float = 0.0) -> Path:
    (root / ".git").mkdir(parents=True)
    transcript = root / "stream.jsonl"
    steps = []
    for i in range(lines):
        steps.append({"action": "say", "text": f"working on step {i} of the feature"})
        steps.append({"action": "think", "seconds": interval})
    if think:
        steps.append({"action": "think", "seconds": think})
    transcript.write_text("".join(json.dumps(s) + "\n" for s in steps))
    body = "\n".join(f"## agent{i}\ntranscript: stream.jsonl\n- stream output\n" for i in range(agents))
    spec = root / "load.agents.md"
    spec.write_text(f"---\nfeature: Load\nrunner: replay\n---\n# Load\n\n{body}")
    return spec


async def start(command: list[str], root: Path) -> tuple[Any, float]:
    client = make_test_lsp_client()

    @client.feature("counterpoint/event")
    def _event(ls: Any, params: Any) -> None:
        return None

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _lens(ls: Any, params: Any) -> None:
        return None

    @client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def _hints(ls: Any, params: Any) -> None:
        return None

    started = time.perf_counter()
    await client.start_io(*command)
    await client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual_studio_code"), root_uri=root.as_uri())
    )
    return client, time.perf_counter() - started


async def startup_ratio(samples: int) -> dict[str, float]:
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for _ in range(samples):
            for command, bucket in (
                ([sys.executable, "-m", "counterpoint", "lsp"], ours),
                ([sys.executable, str(HERE / "bare_pygls_server.py")], bare),
            ):
                client, seconds = await start(command, root)
                bucket.append(seconds)
                await client.shutdown_session()
    return {
        "ours_median_ms": statistics.median(ours) * 1000,
        "bare_median_ms": statistics.median(bare) * 1000,
        "ratio": statistics.median(ours) / statistics.median(bare),
    }


async def latencies(client: Any, uri: str, text: str, samples: int) -> dict[str, list[float]]:
    lines = text.splitlines()
    needs_line = next(i for i, line in enumerate(lines) if line.startswith("transcript:"))
    heading = next(i for i, line in enumerate(lines) if line.startswith("## "))
    out: dict[str, list[float]] = {"hover": [], "completion": []}
    doc = types.TextDocumentIdentifier(uri=uri)
    for _ in range(samples):
        t0 = time.perf_counter()
        await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=types.Position(line=heading, character=4))
        )
        out["hover"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await client.text_document_completion_async(
            types.CompletionParams(text_document=doc, position=types.Position(line=needs_line, character=0))
        )
        out["completion"].append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.01)
    return out


async def responsiveness(samples: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = make_workspace(root, agents=50, lines=3000, interval=0.01)
        client, _ = await start([sys.executable, "-m", "counterpoint", "lsp"], root)
        text = spec.read_text()
        uri = spec.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=text)
            )
        )
        await asyncio.sleep(0.5)
        await latencies(client, uri, text, 20)  # warm up
        idle = await latencies(client, uri, text, samples)
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="counterpoint.run", arguments=[{"uri": uri}])
        )
        run_id = result["runId"] if isinstance(result, dict) else result.runId
        await asyncio.sleep(2.0)  # let all 50 agents stream
        loaded = await latencies(client, uri, text, samples)
        server = psutil.Process(client._server.pid)
        cpu = server.cpu_times()
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="counterpoint.cancel", arguments=[{"runId": run_id}])
        )
        events = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="counterpoint.events", arguments=[{"runId": run_id, "type": "agent_output"}]
            )
        )
        await client.shutdown_session()
    out: dict[str, Any] = {"output_events": len(events), "server_cpu_s": cpu.user + cpu.system}
    for kind in ("hover", "completion"):
        out[kind] = {
            "idle_median_ms": statistics.median(idle[kind]),
            "idle_p99_ms": percentile(idle[kind], 99),
            "load_median_ms": statistics.median(loaded[kind]),
            "load_p99_ms": percentile(loaded[kind], 99),
        }
        out[kind]["p99_ratio"] = out[kind]["load_p99_ms"] / out[kind]["idle_p99_ms"]
    return out


async def memory(agents: int = 100) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = make_workspace(root, agents=agents, lines=50, interval=0.1, think=10)
        client, _ = await start([sys.executable, "-m", "counterpoint", "lsp"], root)
        server = psutil.Process(client._server.pid)
        idle_rss = server.memory_info().rss
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="counterpoint.run", arguments=[{"uri": spec.as_uri()}])
        )
        run_id = result["runId"] if isinstance(result, dict) else result.runId
        peak = idle_rss
        for _ in range(30):
            await asyncio.sleep(0.2)
            peak = max(peak, server.memory_info().rss)
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="counterpoint.status", arguments=[{}])
        )
        runs = status["runs"] if isinstance(status, dict) else status.runs
        live = sum(
            1
            for r in runs
            for a in (r["agents"] if isinstance(r, dict) else r.agents)
            if (a["state"] if isinstance(a, dict) else a.state) == "running"
        )
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="counterpoint.cancel", arguments=[{"runId": run_id}])
        )
        await client.shutdown_session()
    return {"idle_rss_mb": idle_rss / 2**20, "peak_rss_mb": peak / 2**20, "agents_running": live}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_lsp")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--startups", type=int, default=7)
    args = parser.parse_args(argv)

    async def run() -> dict[str, Any]:
        return {
            "startup": await startup_ratio(args.startups),
            "responsiveness": await responsiveness(args.samples),
            "memory_100_agents": await memory(),
        }

    result = asyncio.run(run())
    r = result["responsiveness"]
    print(f"{'measure':<44} {'value':>12} {'target':>10}")
    for kind in ("hover", "completion"):
        k = r[kind]
        print(
            f"{kind + ' median idle / load (ms)':<44} {k['idle_median_ms']:6.2f}/{k['load_median_ms']:<6.2f}"
        )
        print(f"{kind + ' p99 idle / load (ms)':<44} {k['idle_p99_ms']:6.2f}/{k['load_p99_ms']:<6.2f}")
        print(f"{kind + ' p99 load / idle':<44} {k['p99_ratio']:12.2f} {'<= 3':>10}")
    print(f"{'agent_output events during the load phase':<44} {r['output_events']:12d}")
    s = result["startup"]
    print(
        f"{'start to initialize, ours / bare pygls (ms)':<44} {s['ours_median_ms']:6.0f}/{s['bare_median_ms']:<6.0f}"
    )
    print(f"{'start-up ratio':<44} {s['ratio']:12.2f} {'<= 1.3':>10}")
    m = result["memory_100_agents"]
    print(
        f"{'RSS idle / with 100 agents live (MB)':<44} {m['idle_rss_mb']:6.1f}/{m['peak_rss_mb']:<6.1f} {'< 150':>10}"
    )
    print(json.dumps({"bench": "lsp", **result}))
    return result


if __name__ == "__main__":
    main()

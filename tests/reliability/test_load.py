"""Load: 200 agents in one run, 20 runs in a row without leaks, a storm of file events."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.load import file_storm, many_agents, runs_in_a_row


async def test_200_concurrent_agents_all_succeed(tmp_path: Path) -> None:
    result = await many_agents(tmp_path, count=200)
    assert result["status"] == "succeeded", result
    assert result["succeeded"] == 200
    # They ran side by side (each takes 0.5 s), not one after another.
    assert result["parallelism"] > 20, result


async def test_20_runs_in_a_row_leak_no_files_or_memory(tmp_path: Path) -> None:
    result = await runs_in_a_row(tmp_path, runs=20)
    assert result["succeeded"] == 20, result
    assert result["fd_growth"] <= 3, result
    assert result["rss_growth_mb"] < 50, result


async def test_file_storm_keeps_signals_firing(tmp_path: Path) -> None:
    result = await file_storm(tmp_path, sys.executable)
    assert result["status"] == "succeeded", result
    assert result["signals"] == ["flag", "gen_ready"]
    assert result["node_modules_files"] == 10_000 and result["watched_files"] == 2_000
    assert result["peak_rss_mb"] < 500, result
    assert result["max_loop_lag_ms"] < 2000, result  # the loop (the editor's server) kept answering


async def test_file_written_as_the_last_agent_ends_still_fires_its_signal(tmp_path: Path) -> None:
    """The watcher reports a file a little after it is written: an agent that writes it and exits
    at once must not leave its waiter blocked as "nothing left can fire"."""
    from counterpoint.engine.engine import Engine

    from tests.support.load import run_once, write_workspace

    spec = write_workspace(
        tmp_path,
        "---\nsignals:\n  flag: out/flag.txt\n---\n# Race\n\n"
        "## writer\nrunner: command\ncommand: mkdir -p out && echo ok > out/flag.txt\n- write and go\n\n"
        "## waiter\nrunner: replay\nneeds: flag\ntranscript: think.jsonl\n- after the flag\n",
        {"think": [{"action": "think", "seconds": 0.01}]},
    )
    engine = await Engine.open(tmp_path)
    try:
        for _ in range(5):
            (tmp_path / "out" / "flag.txt").unlink(missing_ok=True)
            status, report = await run_once(engine, spec)
            assert status == "succeeded", report["agents"]
    finally:
        await engine.aclose()

"""``counterpoint events --follow`` in a second process sees a run's events as they are appended, on
PostgreSQL (LISTEN/NOTIFY) and on SQLite (the file watched), and ends with the run. The bound here
holds on a busy machine; the benchmark (bench_eventlog) measures the latency itself."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog, open_event_log

from tests.support.cli import COUNTERPOINT, run_cli

EVENTS = 30
BOUND_S = 3.0
"""Each event seen within this (a loaded machine may stall a process for a while)."""


async def follow_while_appending(workspace: Path, env: dict[str, str]) -> list[float]:
    (workspace / ".git").mkdir(parents=True, exist_ok=True)
    log: EventLog = await open_event_log(workspace)
    await log.append("warmup", "notice", None, None, {})  # the SQLite file exists before the follower
    follower = await asyncio.create_subprocess_exec(
        *COUNTERPOINT,
        "events",
        "--follow",
        "--json",
        "--run",
        "R",
        "--workspace",
        str(workspace),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert follower.stdout is not None
    latencies: list[float] = []
    try:
        first = await log.append("R", "run_started", None, "follow", {"sent": time.time()})
        line = await asyncio.wait_for(follower.stdout.readline(), 60)  # the follower is up
        if not line:
            assert follower.stderr is not None
            raise AssertionError(f"the follower ended: {(await follower.stderr.read()).decode()}")
        assert json.loads(line)["id"] == first.id
        for i in range(EVENTS):
            sent = time.time()
            await log.append("R", "agent_output", "a", None, {"i": i, "sent": sent})
            line = await asyncio.wait_for(follower.stdout.readline(), 30)
            latencies.append(time.time() - sent)
            if not line:
                assert follower.stderr is not None
                raise AssertionError(f"the follower ended: {(await follower.stderr.read()).decode()}")
            assert json.loads(line)["metadata"]["i"] == i
            await asyncio.sleep(0.02)
        await log.append("R", "run_finished", None, "succeeded", {})
        rest = await asyncio.wait_for(follower.stdout.read(), 30)
        assert json.loads(rest.decode().splitlines()[-1])["type"] == "run_finished"
        assert await asyncio.wait_for(follower.wait(), 30) == 0
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
        await log.close()
    return latencies


@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
async def test_events_follow_sees_appends_within_the_bound(
    store: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store == "postgresql":
        monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("COUNTERPOINT_EVENTS_URL", raising=False)
    latencies = await follow_while_appending(tmp_path / "ws", dict(os.environ))
    assert len(latencies) == EVENTS
    assert max(latencies) < BOUND_S, latencies
    print(f"{store}: follow latency median {1000 * statistics.median(latencies):.1f} ms")


def test_follow_of_a_missing_log_and_a_dead_database_is_one_line(tmp_path: Path) -> None:
    env = dict(
        os.environ, COUNTERPOINT_EVENTS_URL="postgresql://u:s3cret-pass-word@127.0.0.1:9/x?connect_timeout=3"
    )
    done = run_cli("events", "--follow", "--workspace", tmp_path, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot reach the event log database" in done.stderr
    assert "s3cret" not in done.stderr

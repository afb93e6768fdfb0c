"""Busy time and parallelism in the report: the time agents actually spent running (each stint
from its ``agent_active``, when the agent's process was started, to its end; a killed segment's
stint up to that segment's last event; ``agent_started`` in a log without ``agent_active``),
checked against the events of the same log and against when the processes were started."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.engine import Engine
from counterpoint.engine.log import query_events
from counterpoint.engine.report import build_report
from counterpoint.engine.run import RunOptions
from counterpoint_protocol.events import Event, EventType, parse_timestamp, utc_timestamp
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

from tests.support.cli import start_cli, user_env

T = EventType


def seconds(event: Event) -> float:
    return parse_timestamp(event.timestamp).timestamp()


def command_spec(tmp_path: Path, n: int, command: str) -> Spec:
    agents = [
        AgentSpec(
            name=f"a{i:03d}",
            settings=AgentSettings.model_validate({"runner": "command", "command": command}),
            heading_range=SourceRange.on_line(i),
            name_range=SourceRange.on_line(i),
            section_end_line=i,
        )
        for i in range(n)
    ]
    return Spec(path=str(tmp_path / "tiny.agents.md"), feature="tiny", agents=agents)


async def test_busy_starts_when_the_process_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many agents started at once: each one's busy time begins once its process is being started
    (never while it waited for that) and before anything it printed; it ends at its finish."""
    n = 60
    spawn_began: dict[str, float] = {}
    real = subprocess.Popen

    class Timed(real):  # type: ignore[valid-type,misc]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            name = (kwargs.get("env") or {}).get("COUNTERPOINT_AGENT")
            if name is not None:
                spawn_began.setdefault(name, time.time())  # before the child exists
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Timed)
    engine = await Engine.open(tmp_path)
    try:
        run = engine.create_run(command_spec(tmp_path, n, "echo hi"), RunOptions(watch=False, trust=True))
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        await engine.aclose()
    assert report["status"] == "succeeded"
    assert len(spawn_began) == n
    ended = {e.actor: seconds(e) for e in events if e.type == T.AGENT_FINISHED}
    # Timestamps are whole milliseconds (cut, not rounded) and the report rounds to them.
    for row in report["agents"]:
        assert row["busy_s"] <= ended[row["name"]] - spawn_began[row["name"]] + 0.002, row
    assert report["busy_s"] <= sum(ended[a] - spawn_began[a] for a in ended) + 0.002 * n
    # Where it begins: one agent_active per agent, after agent_started, before its first output.
    for row in report["agents"]:
        mine = [e for e in events if e.actor == row["name"]]
        kinds = [e.type for e in mine]
        assert kinds.count(T.AGENT_ACTIVE) == 1
        active = mine[kinds.index(T.AGENT_ACTIVE)]
        assert kinds.index(T.AGENT_STARTED) < kinds.index(T.AGENT_ACTIVE) < kinds.index(T.AGENT_OUTPUT)
        assert abs(row["busy_s"] - (ended[row["name"]] - seconds(active))) < 0.0015


async def test_many_tiny_agents_under_max_parallel(tmp_path: Path) -> None:
    n, limit = 200, 4
    spec = command_spec(tmp_path, n, "echo hi")
    engine = await Engine.open(tmp_path)
    try:
        run = engine.create_run(spec, RunOptions(watch=False, trust=True, max_parallel=limit))
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        await engine.aclose()
    assert report["status"] == "succeeded"
    # Each agent's busy time is its stint from the events; the run's is their sum.
    started = {e.actor: seconds(e) for e in events if e.type == T.AGENT_STARTED}
    active = {e.actor: seconds(e) for e in events if e.type == T.AGENT_ACTIVE}
    ended = {e.actor: seconds(e) for e in events if e.type == T.AGENT_FINISHED}
    assert len(started) == len(active) == len(ended) == n
    for row in report["agents"]:
        assert abs(row["busy_s"] - (ended[row["name"]] - active[row["name"]])) < 0.0015
        assert row["busy_s"] <= row["duration_s"] + 0.001
    total = sum(ended[a] - active[a] for a in active)
    assert abs(report["busy_s"] - total) < 0.0015 * n
    # Never more than max_parallel running at once (in the log's order), so parallelism <= 4.
    running = peak = 0
    for event in events:
        if event.type == T.AGENT_STARTED:
            running += 1
            peak = max(peak, running)
        elif event.type == T.AGENT_FINISHED and event.actor in started:
            running -= 1
    assert peak == limit
    assert 0 < report["parallelism"] <= limit
    # busy_s and wall_s are shown rounded to 3 places and the ratio is taken before rounding:
    # recomputed from the rounded figures it may differ in its last place.
    assert report["parallelism"] == pytest.approx(report["busy_s"] / report["wall_s"], abs=0.006)


SPEC = """---
feature: Busy across a kill
runner: replay
---
# Busy across a kill

## slow
transcript: transcripts/slow.jsonl
- Works, gets killed, and runs again when resumed

## quick
transcript: transcripts/quick.jsonl
- Done before the kill
"""


def cli(folder: Path, *args: str) -> subprocess.Popen[str]:
    return start_cli(*args, cwd=folder, env=user_env(folder / "config"), start_new_session=True)


async def wait_for(db: Path, check: Any, deadline_s: float = 90) -> list[Event]:
    """Poll the (real, shared) event log until ``check(events)``; the events then."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if db.exists():
            events = await asyncio.to_thread(query_events, db)
            if check(events):
                return events
        await asyncio.sleep(0.05)
    raise AssertionError("the event never came")


async def test_a_killed_stint_counts_until_the_kill(tmp_path: Path) -> None:
    (tmp_path / ".counterpoint").mkdir()
    (tmp_path / "transcripts").mkdir()
    steps = [
        {"action": "say", "text": "step 1"},
        {"action": "think", "seconds": 0.4},
        {"action": "say", "text": "step 2"},
        {"action": "run", "command": "test -f go || sleep 60"},
    ]
    (tmp_path / "transcripts" / "slow.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    (tmp_path / "transcripts" / "quick.jsonl").write_text(json.dumps({"action": "say", "text": "hi"}) + "\n")
    (tmp_path / "busy.agents.md").write_text(SPEC)
    db = tmp_path / ".counterpoint" / "events.db"

    first = cli(tmp_path, "run", "--trust", "--quiet", "busy.agents.md")
    try:

        def slow_in_step_2(events: list[Event]) -> bool:
            return any(
                e.type == T.AGENT_OUTPUT and e.actor == "slow" and "step 2" in json.dumps(e.metadata)
                for e in events
            ) and any(e.type == T.AGENT_FINISHED and e.actor == "quick" for e in events)

        await wait_for(db, slow_in_step_2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        await asyncio.to_thread(first.wait)
    (tmp_path / "go").write_text("")
    second = cli(tmp_path, "resume", "--trust", "--quiet", "last")
    _out, err = await asyncio.to_thread(second.communicate, timeout=120)
    assert second.returncode == 0, err

    events = await asyncio.to_thread(query_events, db)
    engine = await Engine.open(tmp_path)
    try:
        report = await engine.write_report(events[0].run_id)
    finally:
        await engine.aclose()
    assert report["status"] == "succeeded"
    slow = next(a for a in report["agents"] if a["name"] == "slow")
    quick = next(a for a in report["agents"] if a["name"] == "quick")
    # Segment 1: slow ran from its start to the segment's last event (at least its 0.4 s think);
    # segment 2: its whole rerun. Both count; the pause between them does not.
    resumed = next(i for i, e in enumerate(events) if e.type == T.RUN_RESUMED)
    first_start = next(e for e in events[:resumed] if e.type == T.AGENT_ACTIVE and e.actor == "slow")
    stint = seconds(events[resumed - 1]) - seconds(first_start)
    assert stint >= 0.4

    def ran(name: str, segment: list[Event]) -> float:
        began = next(e for e in segment if e.type == T.AGENT_ACTIVE and e.actor == name)
        ended = next(e for e in segment if e.type == T.AGENT_FINISHED and e.actor == name)
        return seconds(ended) - seconds(began)

    rerun = ran("slow", events[resumed:])
    expected = stint + rerun + ran("quick", events)
    assert abs(report["busy_s"] - expected) < 0.005
    assert abs(slow["busy_s"] - (stint + rerun)) < 0.003
    assert abs(report["busy_s"] - (slow["busy_s"] + quick["busy_s"])) < 0.003
    # busy_s and wall_s are shown rounded to 3 places and the ratio is taken before rounding:
    # recomputed from the rounded figures it may differ in its last place.
    assert report["parallelism"] == pytest.approx(report["busy_s"] / report["wall_s"], abs=0.006)


def event(n: int, type: str, actor: str | None, at: float, action: str | None = None) -> Event:
    stamp = utc_timestamp(datetime.fromtimestamp(1_800_000_000 + at, UTC))
    return Event(id=n, run_id="r", type=type, actor=actor, action=action, metadata={}, timestamp=stamp)


def test_busy_counts_from_agent_active_else_from_agent_started() -> None:
    """A log with ``agent_active`` counts each stint from it (a stint without one, an agent that
    failed before its process ran, counts nothing); an older log counts from ``agent_started``."""
    old = [
        event(1, T.RUN_STARTED, None, 0.0),
        event(2, T.AGENT_STARTED, "a", 0.0),
        event(3, T.AGENT_STARTED, "b", 0.0),
        event(4, T.AGENT_FINISHED, "a", 2.0, "succeeded"),
        event(5, T.AGENT_FINISHED, "b", 4.0, "failed"),
        event(6, T.RUN_FINISHED, None, 4.0, "failed"),
    ]
    report = build_report(old)
    assert {r["name"]: r["busy_s"] for r in report["agents"]} == {"a": 2.0, "b": 4.0}
    new = [*old[:3], event(7, T.AGENT_ACTIVE, "a", 1.5), *old[3:]]
    report = build_report(new)
    assert {r["name"]: r["busy_s"] for r in report["agents"]} == {"a": 0.5, "b": 0.0}
    assert report["busy_s"] == 0.5

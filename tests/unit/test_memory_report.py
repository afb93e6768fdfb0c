"""Memory and cost of the report and of a tool write: the report is one pass over the log, read a
page at a time, and keeps what grows with the agents, signals and distinct paths, not with the
events; one tool write costs one thread hop."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.log import EventLog, query_events
from counterpoint.engine.report import build_report, log_pages
from counterpoint.engine.workspace import WorkspaceTools
from counterpoint.engine.workspace import tools as workspace
from counterpoint_protocol.events import Event, EventType

T = EventType
PATHS = ["src/a.py", "src/b.py", "docs/c.md"]


def events(rewrites: int) -> Iterator[Event]:
    """A run's events made one at a time: one agent rewriting three files ``rewrites`` times."""
    n = 0

    def event(kind: str, actor: str | None, action: str | None, **metadata: Any) -> Event:
        nonlocal n
        n += 1
        stamp = f"2026-01-01T00:{n // 60_000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z"
        return Event(
            id=n, run_id="r1", type=kind, actor=actor, action=action, metadata=metadata, timestamp=stamp
        )

    yield event(T.RUN_STARTED, None, "f", agents=["writer"], max_parallel=1, spec="s.agents.md")
    yield event(T.AGENT_STARTED, "writer", "running", attempt=1, runner="replay")
    yield event(T.AGENT_ACTIVE, "writer", None, attempt=1)
    for i in range(rewrites):
        path = PATHS[i % len(PATHS)]
        yield event(T.TOOL_CALL, "writer", "write_file", args={"path": path, "bytes": 9})
        yield event(T.FILE_WRITTEN, "writer", path, bytes=9, sha256="ab" * 32, created=False)
    yield event(T.AGENT_FINISHED, "writer", "succeeded", duration_s=1.0)
    yield event(T.RUN_FINISHED, None, "succeeded", wall_s=2.0, agents={"writer": "succeeded"})


def report_peak(rewrites: int) -> tuple[int, dict[str, Any]]:
    tracemalloc.start()
    try:
        report = build_report(events(rewrites))
        return tracemalloc.get_traced_memory()[1], report
    finally:
        tracemalloc.stop()


def test_the_report_is_one_pass_and_its_memory_does_not_grow_with_the_events() -> None:
    small, first = report_peak(2_000)
    large, second = report_peak(8_000)
    assert first["events"] == 2 * 2_000 + 5 and second["events"] == 2 * 8_000 + 5
    assert first["agents"][0]["status"] == second["agents"][0]["status"] == "succeeded"
    assert second["wall_s"] == 2.0 and second["busy_s"] > 0
    # Four times the events, the same few paths: what the pass keeps does not grow with them.
    assert large < small * 1.25 + 32_000, (small, large)


async def test_log_pages_reads_every_event_once_in_order(tmp_path: Path) -> None:
    log = await EventLog.open(tmp_path / "events.db")
    try:
        for i in range(25):
            log.emit("r1", T.NOTICE, None, f"n{i}", {})
            log.emit("r2", T.NOTICE, None, f"other{i}", {})
        await log.flush()
    finally:
        await log.close()
    calls: list[tuple[int, int]] = []

    def fetch(after: int, limit: int) -> list[Event]:
        calls.append((after, limit))
        return query_events(tmp_path / "events.db", "r1", after_id=after, limit=limit)

    read = [e.action for e in log_pages(fetch, page=10)]
    assert read == [f"n{i}" for i in range(25)]
    assert len(calls) == 3 and all(limit == 10 for _, limit in calls)


async def test_one_tool_write_is_one_thread_hop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[object] = []
    loop = asyncio.get_running_loop()
    real = loop.run_in_executor

    def counted(executor: Any, fn: Any, *args: Any) -> Any:  # asyncio.to_thread and aiofiles use it
        hops.append(fn)
        return real(executor, fn, *args)

    monkeypatch.setattr(loop, "run_in_executor", counted)
    written: list[str] = []

    async def on_write(record: workspace.WriteRecord) -> None:
        written.append(record.path)

    tools = WorkspaceTools(tmp_path, tmp_path, on_write=on_write)
    result = await tools.write_file("writer", "deep/er/f.txt", "hello\n")
    assert result == {"path": "deep/er/f.txt", "bytes": 6, "created": True}
    assert (tmp_path / "deep/er/f.txt").read_text() == "hello\n"
    assert written == ["deep/er/f.txt"]
    assert len(hops) == 1, hops
    assert not [p for p in (tmp_path / "deep/er").iterdir() if p.name.endswith(".counterpoint-tmp")]

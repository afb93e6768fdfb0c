"""Tests for the SQLite event log.

Order and ids, subscribers, filters, concurrency, two processes on one file, redaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog, query_events
from counterpoint.engine.workspace import Redactor
from counterpoint_protocol.events import Event, parse_timestamp


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".counterpoint" / "events.db"


@pytest.fixture
async def event_log(db: Path) -> AsyncIterator[EventLog]:
    log = await EventLog.open(db)
    yield log
    await log.close()


def raw_rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT id, run_id, type, actor, action, metadata FROM events ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


async def test_append_returns_stored_events_in_order(event_log: EventLog) -> None:
    stored = [await event_log.append("r1", "agent_output", "backend", None, {"n": i}) for i in range(20)]
    ids = [e.id for e in stored]
    assert ids == sorted(ids) and len(set(ids)) == 20
    queried = await event_log.query("r1")
    assert queried == stored
    first = queried[0]
    assert set(first.model_dump()) == {
        "id",
        "run_id",
        "type",
        "actor",
        "action",
        "metadata",
        "timestamp",
    }
    assert first.metadata == {"n": 0} and first.actor == "backend"
    assert first.timestamp.endswith("Z") and parse_timestamp(first.timestamp).year >= 2024
    # Timestamps never go backwards in id order.
    stamps = [parse_timestamp(e.timestamp) for e in queried]
    assert stamps == sorted(stamps)


async def test_nowait_appends_keep_call_order(event_log: EventLog) -> None:
    futures = [event_log.append_nowait("r1", "agent_output", "a", str(i)) for i in range(500)]
    events = await asyncio.gather(*futures)
    assert [e.action for e in events] == [str(i) for i in range(500)]
    assert [e.id for e in events] == sorted(e.id for e in events)


async def test_subscribers_see_committed_events_in_order(event_log: EventLog, db: Path) -> None:
    seen: list[Event] = []
    committed: list[bool] = []

    def subscriber(event: Event) -> None:
        seen.append(event)
        # Delivered only after the commit: a fresh connection already sees the row.
        committed.append(bool(query_events(db, after_id=event.id - 1, limit=1)))

    unsubscribe = event_log.subscribe(subscriber)
    for i in range(200):
        event_log.append_nowait("r1", "agent_output", "a", str(i))
    await event_log.flush()
    assert [e.action for e in seen] == [str(i) for i in range(200)]
    assert all(committed)
    assert seen == await event_log.query("r1")
    unsubscribe()
    await event_log.append("r1", "agent_output", "a", "after")
    assert len(seen) == 200


async def test_query_filters(event_log: EventLog) -> None:
    for run in ("r1", "r2"):
        for actor in ("backend", "frontend"):
            await event_log.append(run, "agent_started", actor, "running")
            await event_log.append(run, "agent_output", actor, None, {"line": f"{run} {actor}"})
            await event_log.append(run, "agent_finished", actor, "succeeded")
    assert len(await event_log.query()) == 12
    r1 = await event_log.query("r1")
    assert len(r1) == 6 and {e.run_id for e in r1} == {"r1"}
    outputs = await event_log.query("r2", "agent_output")
    assert [e.metadata["line"] for e in outputs] == ["r2 backend", "r2 frontend"]
    front = await event_log.query("r1", actor="frontend")
    assert [e.type for e in front] == ["agent_started", "agent_output", "agent_finished"]
    assert [e.type for e in await event_log.query(type="agent_finished", actor="backend")] == [
        "agent_finished"
    ] * 2
    page = await event_log.query("r1", after_id=r1[1].id, limit=2)
    assert page == r1[2:4]
    assert await event_log.query("nope") == []


async def test_concurrent_appends_from_many_tasks(event_log: EventLog) -> None:
    async def writer(task: int) -> list[Event]:
        out = []
        for seq in range(60):
            out.append(await event_log.append("r1", "agent_output", f"t{task}", None, {"seq": seq}))
            if seq % 7 == 0:
                await asyncio.sleep(0)
        return out

    results = await asyncio.gather(*(writer(t) for t in range(40)))
    events = await event_log.query("r1")
    assert len(events) == 40 * 60
    assert len({e.id for e in events}) == len(events)
    for task, stored in enumerate(results):
        mine = [e for e in events if e.actor == f"t{task}"]
        assert [e.metadata["seq"] for e in mine] == list(range(60))
        assert mine == stored


CHILD = """
import asyncio, sys
from pathlib import Path
from counterpoint.engine.log.store import EventLog

async def main() -> None:
    log = await EventLog.open(Path(sys.argv[1]))
    print("ready", flush=True)
    for chunk in range(20):
        for seq in range(100):
            log.append_nowait("child", "agent_output", "child", None, {"seq": chunk * 100 + seq})
        await log.flush()
        await asyncio.sleep(0.005)
    await log.close()

asyncio.run(main())
"""


async def test_two_processes_on_one_database(event_log: EventLog, db: Path) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 20)).strip() == b"ready"
    for chunk in range(20):
        for seq in range(100):
            event_log.append_nowait("parent", "agent_output", "parent", None, {"seq": chunk * 100 + seq})
        await event_log.flush()
        await asyncio.sleep(0.005)
    _out, err = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 0, err.decode()
    for run in ("parent", "child"):
        events = await event_log.query(run)
        assert [e.metadata["seq"] for e in events] == list(range(2000))
    rows = raw_rows(db)
    assert len(rows) == 4000 and len({r[0] for r in rows}) == 4000
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


async def test_close_flushes_everything(db: Path) -> None:
    log = await EventLog.open(db)
    futures = [log.append_nowait("r1", "agent_output", "a", str(i)) for i in range(1000)]
    await log.close()
    assert all(f.done() and not f.exception() for f in futures)
    assert len(raw_rows(db)) == 1000
    with pytest.raises(RuntimeError):
        log.append_nowait("r1", "agent_output")
    await log.close()  # closing twice is harmless


async def test_secrets_are_redacted(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "plain-secret-value-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    token = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    log = await EventLog.open(db, redactor=Redactor())
    try:
        event = await log.append(
            "r1",
            "agent_output",
            "backend",
            f"called with {token}",
            {
                "line": f"export OPENAI_API_KEY={secret}",
                "nested": [{"text": f"Authorization: Bearer {token}"}],
                "api_key": "short",
                "count": 3,
            },
        )
    finally:
        await log.close()
    assert event.action == "called with ***"
    assert event.metadata["line"] == "export OPENAI_API_KEY=***"
    assert event.metadata["nested"] == [{"text": "Authorization: Bearer ***"}]
    assert event.metadata["api_key"] == "***"
    assert event.metadata["count"] == 3
    stored = repr(raw_rows(db))
    assert secret not in stored and token not in stored and "short" not in stored


def test_the_redaction_prefilter_never_skips_a_secret() -> None:
    import random

    from counterpoint.engine.workspace import redact

    # Every top-level alternative of the secret pattern starts with a marker the prefilter tests.
    alternatives = redact._SECRET_VALUE.pattern[1:-1].split("|")
    assert all(any(m in alt for m in redact._VALUE_MARKERS) for alt in alternatives)
    samples = [
        "sk-" + "a" * 20,
        "ghp_" + "b" * 24,
        "xoxb-" + "c" * 12,
        "AKIA" + "D" * 16,
        "Bearer " + "e" * 20,
    ]
    rng = random.Random(5)
    redactor = Redactor()
    for _ in range(500):
        text = "".join(rng.choice(["plain ", "gh", "sk", "-", "x", *samples]) for _ in range(6))
        assert redactor.text(text) == redact._SECRET_VALUE.sub(redact.REDACTED, text)

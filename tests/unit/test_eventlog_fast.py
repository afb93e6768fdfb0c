"""Tests for the event log's fast paths: they must give exactly what the plain paths give.

Redaction's shortcut (`clean_metadata`) against the redactor's own rules, reading through
pydantic-core's JSON parser (with Python's as the fallback), queries that do not read back the run
and type they filter on, and batches written several statements at a time.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.log import EventLog, query_events
from counterpoint.engine.log.fast import CHUNK, clean_metadata, deliver, encode
from counterpoint.engine.workspace import Redactor
from counterpoint_protocol.events import Event, EventType


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".counterpoint" / "events.db"


@pytest.fixture
async def event_log(db: Path) -> AsyncIterator[EventLog]:
    log = await EventLog.open(db)
    yield log
    await log.close()


def test_the_redaction_shortcut_gives_what_the_redactor_gives() -> None:
    # Env secrets with characters JSON escapes (quote, backslash, non-ASCII, control) are found
    # in the JSON text as it writes them.
    secrets = [
        'quo"te-secret-1',
        "back\\slash-secret",
        "caf\u00e9-secret-99",
        "tab\tsecret-77",
        "plainsecret42",
    ]
    redactor = Redactor(secrets)
    pieces = [
        "plain text",
        "sk-" + "a" * 20,
        "ghp_" + "b" * 24,
        "Bearer " + "c" * 20,
        "AKIA" + "D" * 16,
        "xoxb-" + "e" * 12,
        "\u00e9\u2028",
        '"',
        "\\",
        *secrets,
    ]
    keys = ["line", "text", "api_key", "github_token", "password", "n", "path", "Authorization", "note"]
    rng = random.Random(16)
    for _ in range(3000):
        metadata: dict[Any, Any] = {}
        for _ in range(rng.randint(1, 4)):
            key = rng.choice(keys)
            kind = rng.random()
            if kind < 0.6:
                metadata[key] = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
            elif kind < 0.8:
                metadata[key] = rng.choice([3, 2.5, None, True, math.inf, 10**30])
            else:
                metadata[key] = [{"token": rng.choice(pieces)}, rng.choice(pieces)]
        if rng.random() < 0.05:
            metadata[7] = rng.choice(pieces)  # a non-string key
        expected = redactor.data(metadata)
        text, meta = clean_metadata(redactor, metadata)
        assert meta == expected or repr(meta) == repr(expected)  # (nan != nan)
        assert text == encode(expected)
        assert meta is not metadata  # the event keeps its own copy
        for secret in secrets:
            assert json.dumps(secret)[1:-1] not in text


async def test_a_redacted_value_is_redacted_on_the_shortcut_too(event_log: EventLog) -> None:
    # The first event teaches the log that "line" is no secret's name; later ones take the shortcut.
    await event_log.append("r1", "agent_output", "a", None, {"line": "hello"})
    event = await event_log.append("r1", "agent_output", "a", None, {"line": "key sk-" + "x" * 24})
    assert event.metadata == {"line": "key ***"}
    (stored,) = await event_log.query("r1", after_id=event.id - 1)
    assert stored.metadata == {"line": "key ***"}


async def test_events_read_back_equal_the_events_appended(event_log: EventLog, db: Path) -> None:
    odd = [
        {"line": "lone surrogate \ud800 survives"},  # pydantic-core refuses it: Python's json reads it
        {"nan": math.nan, "inf": -math.inf, "big": -(10**40), "tiny": 5e-324, "neg0": -0.0},
        {"nested": {"deep": [1, "two", {"three": None}]}, "\u00e9": "\u2028\x00"},
        {},
    ]
    appended = [await event_log.append("r1", "tool_call", None, "act", meta) for meta in odd]
    read = query_events(db, "r1")
    assert [e.id for e in read] == [e.id for e in appended]
    for mine, theirs in zip(appended, read, strict=True):
        assert repr(theirs) == repr(mine)  # repr: nan != nan
    for mine, theirs in zip(appended[1:], read[1:], strict=True):  # (JSON has no lone surrogate)
        assert theirs.model_dump_json() == mine.model_dump_json()


async def test_a_query_by_run_and_type_fills_them_in_as_plain_strings(event_log: EventLog, db: Path) -> None:
    await event_log.append("r1", EventType.AGENT_OUTPUT, "a", None, {"line": "x"})
    await event_log.append("r1", EventType.TOOL_CALL, "a")
    await event_log.append("r2", EventType.AGENT_OUTPUT, "b")
    (event,) = query_events(db, "r1", EventType.AGENT_OUTPUT)
    assert type(event.type) is str and event.type == "agent_output"
    assert type(event.run_id) is str and event.run_id == "r1"
    assert event == query_events(db, "r1")[0] == query_events(db)[0]
    assert event.model_dump() == {
        "id": event.id,
        "run_id": "r1",
        "type": "agent_output",
        "actor": "a",
        "action": None,
        "metadata": {"line": "x"},
        "timestamp": event.timestamp,
    }
    assert Event.model_validate_json(event.model_dump_json()) == event


async def test_a_big_batch_is_stored_whole_in_order_with_consecutive_ids(
    event_log: EventLog, db: Path
) -> None:
    count = 7 * CHUNK + 61  # several full statements and a remainder of several sizes
    seen: list[Event] = []
    event_log.subscribe(seen.append)
    futures = [event_log.append_nowait("r1", "agent_output", "a", None, {"n": i}) for i in range(count)]
    futures[5].cancel()  # a waiter that gave up does not stop the others
    await event_log.flush()
    delivered = [f.result() for i, f in enumerate(futures) if i != 5]
    assert [e.metadata["n"] for e in seen] == list(range(count))
    ids = [e.id for e in seen]
    assert ids == list(range(ids[0], ids[0] + count))
    assert delivered == [e for i, e in enumerate(seen) if i != 5]
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id, metadata FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    assert [(r[0], json.loads(r[1])["n"]) for r in rows] == [(e.id, e.metadata["n"]) for e in seen]
    assert query_events(db, "r1") == seen


async def test_emit_and_append_interleave_in_call_order(event_log: EventLog, db: Path) -> None:
    last = None
    for i in range(300):
        if i % 3:
            event_log.emit("r1", "agent_output", None, None, {"n": i})
        else:
            last = event_log.append_nowait("r1", "agent_output", None, None, {"n": i})
    assert last is not None
    await asyncio.wait_for(last, 60)
    await event_log.flush()
    assert [e.metadata["n"] for e in query_events(db, "r1")] == list(range(300))


def test_delivery_builds_only_the_events_someone_takes() -> None:
    loop = asyncio.new_event_loop()
    try:
        waiter: asyncio.Future[Event] = loop.create_future()
        batch = [("r1", "notice", None, None, "{}", "t", None, {}) for _ in range(3)]
        batch[1] = ("r1", "notice", "a", "x", '{"n": 1}', "t", waiter, {"n": 1})
        # Nobody subscribes: no event list, but the waiter gets its event with its own id.
        assert deliver(batch, 10, False) == []
        assert waiter.result().id == 11 and waiter.result().metadata == {"n": 1}
        assert [e.id for e in deliver(batch, 10, True)] == [10, 11, 12]
    finally:
        loop.close()


async def test_unsubscribed_events_still_reach_waiters_and_late_subscribers(
    event_log: EventLog, db: Path
) -> None:
    # Fire-and-forget events between waited ones: each waiter gets its own row's event, and a
    # subscriber added before the batch is delivered (same loop turn, no await) still sees all.
    futures = []
    for i in range(300):
        if i % 3:
            event_log.emit("r1", "agent_output", None, None, {"n": i})
        else:
            futures.append(event_log.append_nowait("r1", "agent_output", None, None, {"n": i}))
    seen: list[Event] = []
    event_log.subscribe(seen.append)
    await event_log.flush()
    stored = query_events(db, "r1")
    assert seen == stored and [e.metadata["n"] for e in seen] == list(range(300))
    assert [f.result() for f in futures] == stored[::3]

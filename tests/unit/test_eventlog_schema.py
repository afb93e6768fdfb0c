"""The event log's schema versions and errors, on real SQLite files.

A log written before versions existed is upgraded in place with its events kept; a newer schema
or another app's file is refused untouched; a log held locked too long gives a clear error.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog, EventLogError, query_events
from counterpoint.engine.log import schema as eventlog_schema
from counterpoint.engine.log.schema import APPLICATION_ID, LATEST, SCHEMA


def pragma(db: Path, name: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


async def test_a_new_log_is_at_the_latest_version(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    log = await EventLog.open(db)
    await log.append("r", "notice")
    await log.close()
    assert pragma(db, "user_version") == LATEST >= 2
    assert pragma(db, "application_id") == APPLICATION_ID


async def test_a_log_of_the_code_before_versions_is_upgraded_with_its_events(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)  # exactly what the code before schema versions wrote
    conn.execute(
        "INSERT INTO events (run_id, type, actor, action, metadata, timestamp)"
        " VALUES ('old', 'notice', NULL, 'kept', '{\"n\": 1}', '2026-01-01T00:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO runs (run_id, spec, started_at, status, pid) VALUES ('old', 's', 't', 'succeeded', 1)"
    )
    conn.commit()
    conn.close()
    assert pragma(db, "user_version") == 0
    assert [e.action for e in query_events(db)] == ["kept"]  # readable before the upgrade
    log = await EventLog.open(db)
    new = await log.append("new", "notice", action="added")
    assert [r.run_id for r in await log.runs()] == ["old"]
    await log.close()
    assert pragma(db, "user_version") == LATEST
    assert [(e.action, e.metadata) for e in query_events(db)] == [("kept", {"n": 1}), ("added", {})]
    assert new.id == 2
    conn = sqlite3.connect(db)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert {"runs_started", "runs_status", "events_run_type"} <= indexes


def digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("script", "words"),
    [
        (SCHEMA + f"PRAGMA user_version = {LATEST + 1};", "newer Counterpoint"),
        ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);", "another application's SQLite file"),
        (
            "CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT); CREATE TABLE runs (x);",
            "another application",
        ),
        ("PRAGMA application_id = 1234; CREATE TABLE t (x);", "another application"),
    ],
)
async def test_newer_or_foreign_files_are_refused_untouched(tmp_path: Path, script: str, words: str) -> None:
    db = tmp_path / "events.db"
    conn = sqlite3.connect(db)
    conn.executescript(script)
    conn.close()
    before = digest(db)
    with pytest.raises(EventLogError, match=words):
        await EventLog.open(db)
    with pytest.raises(EventLogError, match=words):
        query_events(db)
    assert digest(db) == before
    assert not (tmp_path / "events.db-wal").exists()


async def test_a_log_locked_too_long_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "events.db"
    log = await EventLog.open(db)
    await log.close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(eventlog_schema, "BUSY_TIMEOUT_MS", 50)
    try:
        with pytest.raises(EventLogError, match="locked by another process") as caught:
            await EventLog.open(db)
        assert "\n" not in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_appends_after_a_write_failure_fail_with_the_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    log = await EventLog.open(db)
    heard: list[EventLogError] = []
    log.on_failure(heard.append)
    await log.append("r", "notice")
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER no_more BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    conn.commit()
    conn.close()
    with pytest.raises(EventLogError, match="disk I/O error"):
        await log.append("r", "notice")
    log.emit("r", "notice")
    await log.flush()
    assert len(heard) == 1 and log.failure is heard[0] and log.lost == 2
    await log.close()  # closing a failed log does not raise

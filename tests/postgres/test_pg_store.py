"""The PostgreSQL event log against a real server: the SQLite log's behaviour (ids, order, queries,
runs, subscribers, redaction), a versioned schema, one clear line per failure, no password in any
message, and followers that see what another process appends."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from counterpoint.engine.log import EventLog, EventLogError, open_event_log, pg_schema
from counterpoint.engine.log.pg import PgBackend
from counterpoint_protocol.events import Event

from tests.support.postgres_server import Server


async def write_same(log: EventLog) -> list[Event]:
    events = []
    for i in range(30):
        events.append(await log.append("r1", "agent_output", f"agent{i % 3}", None, {"n": i, "t": "é✓"}))
    events += await asyncio.gather(*(log.append("r2", "signal", None, f"s{i}", {"i": i}) for i in range(20)))
    log.emit("r1", "agent_finished", "agent0", "succeeded", {"duration_s": 1.5})
    await log.flush()
    return events


def untimed(events: list[Event]) -> list[dict[str, Any]]:
    return [e.model_dump(exclude={"timestamp"}) for e in events]


async def test_same_events_and_queries_as_sqlite(pg_url: str, tmp_path: Path) -> None:
    pg = await EventLog.open(PgBackend(pg_url, str(tmp_path)))
    lite = await EventLog.open(tmp_path / ".counterpoint" / "events.db")
    try:
        assert [e.id for e in await write_same(pg)] == [e.id for e in await write_same(lite)]
        for args, kw in [
            ((), {}),
            (("r1",), {}),
            (("r1", "agent_output"), {"after_id": 5, "limit": 7}),
            ((None, "signal"), {}),
            (("r1",), {"actor": "agent1"}),
            (("nope",), {}),
        ]:
            assert untimed(await pg.query(*args, **kw)) == untimed(await lite.query(*args, **kw)), (args, kw)
        for log in (pg, lite):
            await log.record_run("r1", "/ws/a.agents.md", os.getpid())
            await log.record_run("r2", "/ws/b.agents.md", os.getpid())
            await log.finish_run("r1", "succeeded")
        strip = [lambda r: (r.run_id, r.spec, r.status, r.pid, r.finished_at is None)]
        assert [strip[0](r) for r in await pg.runs()] == [strip[0](r) for r in await lite.runs()]
        assert [r.run_id for r in await pg.running_runs()] == ["r2"]
        assert pg.failure is None and pg.lost == 0
    finally:
        await pg.close()
        await lite.close()


async def test_subscribers_hear_committed_events_in_order(pg_url: str) -> None:
    log = await EventLog.open(PgBackend(pg_url))
    heard: list[int] = []
    log.subscribe(lambda e: heard.append(e.id))
    try:
        for i in range(2000):
            log.emit("r", "agent_output", "a", None, {"i": i})
        await log.flush()
        assert heard == list(range(1, 2001))
    finally:
        await log.close()


async def test_ids_stay_in_commit_order_with_two_writers(pg_url: str) -> None:
    """Two logs (as two processes) append at once: the ids interleave, each batch's are consecutive,
    and a reader that saw id N never sees an id below N committed later."""
    logs = [await EventLog.open(PgBackend(pg_url)) for _ in range(2)]
    seen: list[int] = []
    stops = [logs[0].follow(None, 0, lambda events: seen.extend(e.id for e in events))]
    try:
        for round_ in range(20):
            for n, log in enumerate(logs):
                for i in range(50):
                    log.emit(f"run{n}", "agent_output", "a", None, {"round": round_, "i": i})
            await asyncio.gather(*(log.flush() for log in logs))
        deadline = time.monotonic() + 30
        while len(seen) < 2000 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert seen == list(range(1, 2001))  # nothing skipped, nothing twice, in order
    finally:
        for stop in stops:
            stop()
        for log in logs:
            await log.close()


APPENDER = textwrap.dedent(
    """
    import asyncio, sys
    from counterpoint.engine.log import EventLog
    from counterpoint.engine.log.pg import PgBackend

    async def main() -> None:
        log = await EventLog.open(PgBackend(sys.argv[1]))
        for i in range(int(sys.argv[2])):
            await log.append("far", "agent_output", "far", None, {"i": i})
            await asyncio.sleep(0.01)
        await log.append("far", "run_finished", None, "succeeded", {})
        await log.close()

    asyncio.run(main())
    """
)


async def test_a_follower_sees_what_another_process_appends(pg_url: str) -> None:
    log = await EventLog.open(PgBackend(pg_url))
    got: list[Event] = []
    done = asyncio.Event()

    def on_events(events: list[Event]) -> None:
        got.extend(events)
        if any(e.type == "run_finished" for e in events):
            done.set()

    stop = log.follow("far", 0, on_events)
    try:
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", APPENDER, pg_url, "40")
        assert await asyncio.wait_for(child.wait(), 60) == 0
        await asyncio.wait_for(done.wait(), 30)
        assert [e.metadata.get("i") for e in got[:-1]] == list(range(40))
        assert [e.id for e in got] == sorted(e.id for e in got)
    finally:
        stop()
        await log.close()


# -- the schema and its versions -------------------------------------------------------------


def meta(pg_url: str, sql: str) -> Any:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchone() if cur.description else None


async def test_schema_is_versioned_and_refused_when_older_or_newer(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = await EventLog.open(PgBackend(pg_url))
    await log.append("r", "notice", None, None, {})
    await log.close()
    assert meta(pg_url, "SELECT version, application FROM counterpoint.schema_version") == (
        1,
        "counterpoint event log",
    )
    # A newer Counterpoint with one more migration: this database is older, and refused until
    # `counterpoint events --migrate` (which keeps the events).
    monkeypatch.setattr(
        pg_schema,
        "MIGRATIONS",
        [*pg_schema.MIGRATIONS, ["CREATE INDEX events_type ON counterpoint.events (type)"]],
    )
    with pytest.raises(EventLogError) as older:
        await EventLog.open(PgBackend(pg_url))
    assert older.value.kind == "older" and "counterpoint events --migrate" in str(older.value)
    monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", pg_url)
    from counterpoint.engine.log import migrate

    assert migrate(tmp_path)[1:] == (1, 2)
    log = await open_event_log(tmp_path)
    assert len(await log.query("r")) == 1
    await log.close()
    # Back to this version: the database is newer.
    monkeypatch.setattr(pg_schema, "MIGRATIONS", pg_schema.MIGRATIONS[:1])
    with pytest.raises(EventLogError) as newer:
        await EventLog.open(PgBackend(pg_url))
    assert newer.value.kind == "newer" and "upgrade Counterpoint" in str(newer.value)
    assert "\n" not in str(newer.value)


async def test_a_schema_of_another_application_is_left_alone(pg_url: str) -> None:
    meta(pg_url, "CREATE SCHEMA counterpoint; CREATE TABLE counterpoint.events (x int)")
    with pytest.raises(EventLogError) as refused:
        await EventLog.open(PgBackend(pg_url))
    assert refused.value.kind == "foreign"
    assert meta(pg_url, "SELECT count(*) FROM counterpoint.events") == (0,)


# -- failures: one line, no password ------------------------------------------------------------


async def test_unreachable_database_is_one_line_without_the_password(pg_server: Server) -> None:
    dead = f"postgresql://bob:hunter2-very-secret@127.0.0.1:{_closed_port()}/events?connect_timeout=5"
    with pytest.raises(EventLogError) as failed:
        await EventLog.open(PgBackend(dead))
    message = str(failed.value)
    assert failed.value.kind == "unreachable", message
    assert "hunter2" not in message and "\n" not in message
    assert message.startswith("cannot reach the event log database postgresql://bob@127.0.0.1:")
    missing = pg_server.url("no_such_db", password="hunter2-very-secret")
    with pytest.raises(EventLogError) as nodb:
        await EventLog.open(PgBackend(missing))
    assert nodb.value.kind == "nodatabase" and "hunter2" not in str(nodb.value), nodb.value


async def test_the_password_never_reaches_an_event(pg_server: Server, pg_database: str) -> None:
    url = pg_server.url(pg_database, password="hunter2-very-secret")
    log = await EventLog.open(PgBackend(url))
    try:
        assert log.location == pg_server.url(pg_database)
        event = await log.append("r", "agent_output", "a", None, {"line": "token hunter2-very-secret here"})
        assert "hunter2" not in str(event.metadata)
        assert "hunter2" not in str(await log.query("r"))
    finally:
        await log.close()


async def test_a_lost_server_connection_fails_the_run_then_recovers(pg_url: str) -> None:
    """The writer's connection is ended by the server: the batch in flight fails (not reported),
    `failure` says so in one line, and the next batch connects again."""
    log = await EventLog.open(PgBackend(pg_url))
    failures: list[EventLogError] = []
    log.on_failure(failures.append)
    try:
        await log.append("r", "agent_output", "a", None, {"i": 0})
        meta(
            pg_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'counterpoint' AND pid <> pg_backend_pid() AND datname = current_database()",
        )
        with pytest.raises(EventLogError):
            await log.append("r", "agent_output", "a", None, {"i": 1})
        await asyncio.sleep(0)
        assert failures and "\n" not in str(failures[0])
        stored = await log.append("r", "agent_output", "a", None, {"i": 2})
        assert [e.metadata["i"] for e in await log.query("r")] == [0, 2]
        assert stored.metadata == {"i": 2}
    finally:
        await log.close()


def test_a_bad_events_setting_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from counterpoint.engine.log import events_url

    monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", "mysql://root:pw@db/x")
    with pytest.raises(EventLogError) as bad:
        events_url(tmp_path)
    assert "pw" not in str(bad.value) and "postgresql://" in str(bad.value)
    monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", "sqlite")
    assert events_url(tmp_path) is None


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

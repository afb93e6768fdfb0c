"""Reading the event log (blocking: call from a thread in async code).

Readers never write: a log on a read-only file or folder is still readable, and a log of an older
schema is read as it is. Connections are kept per thread and per file (reopened when the file is
replaced), so a query costs its SQL, not an open. Rows become `Event` objects without validation
(the log's own rows are valid by construction), which keeps a 1,000-event query close to the cost
of its SQL. On a partly damaged log, `query_events_salvaging` returns every event it can still
read, in order, and the error that hid the rest.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import Event

from counterpoint.engine.log.base import RunRecord
from counterpoint.engine.log.fast import rows_to_events
from counterpoint.engine.log.schema import EventLogError, connect, explain, version

_COLUMNS = "id, run_id, type, actor, action, metadata, timestamp"
MAX_CACHED = 4
"""Connections a thread keeps open (to the logs it read last)."""
_local = threading.local()


def row_to_event(row: tuple[Any, ...]) -> Event:
    """An `Event` from a stored row (``id, run_id, type, actor, action, metadata, timestamp``)."""
    return rows_to_events((row,))[0]


def reader(path: Path) -> sqlite3.Connection | None:
    """This thread's connection to the log at ``path`` (``None``: no log there yet, or no tables)."""
    cache: dict[str, tuple[tuple[int, int], sqlite3.Connection]] = _local.__dict__.setdefault("conns", {})
    key = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise explain(exc, path) from exc
    ident = (st.st_dev, st.st_ino)
    cached = cache.get(key)
    if cached is not None and cached[0] == ident:
        return cached[1]
    if cached is not None:
        cached[1].close()
        del cache[key]
    conn = _open_reader(path)
    if conn is None:
        return None
    while len(cache) >= MAX_CACHED:
        cache.pop(next(iter(cache)))[1].close()
    cache[key] = (ident, conn)
    return conn


def _open_reader(path: Path) -> sqlite3.Connection | None:
    if path.is_dir():
        raise explain(IsADirectoryError(21, "Is a directory"), path)
    try:
        conn = connect(path, write=False)
        try:
            current = version(conn, path)
        except BaseException:
            conn.close()
            raise
    except EventLogError:
        raise
    except sqlite3.Error as exc:
        # A WAL log in a folder this process cannot write, or on a full disk (no -shm can be made):
        # read the file as it is.
        if getattr(exc, "sqlite_errorname", "").startswith(
            ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR")
        ):
            return _open_immutable(path)
        raise explain(exc, path) from exc
    if current == 0:
        conn.close()
        return None
    return conn


def _open_immutable(path: Path) -> sqlite3.Connection | None:
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        current = version(conn, path)
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc
    return conn if current else None


def forget(path: Path) -> None:
    """Close this thread's cached connection to ``path`` (tests that replace files use it)."""
    cache: dict[str, tuple[tuple[int, int], sqlite3.Connection]] = _local.__dict__.get("conns", {})
    cached = cache.pop(str(path), None)
    if cached is not None:
        cached[1].close()


def _where(run_id: str | None, type: str | None, after_id: int, actor: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = ["id > ?"]
    params: list[Any] = [after_id]
    for column, value in (("run_id", run_id), ("type", type), ("actor", actor)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def query_events(
    path: Path,
    run_id: str | None = None,
    type: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
    actor: str | None = None,
) -> list[Event]:
    """Events in id order (no log yet: none). Raises `EventLogError`."""
    conn = reader(path)
    if conn is None:
        return []
    where, params = _where(run_id, type, after_id, actor)
    # A run or type the query names is every row's: not read back from each row.
    run = None if run_id is None else str(run_id)
    kind = None if type is None else str(type)
    run_column = "run_id" if run is None else "NULL"
    type_column = "type" if kind is None else "NULL"
    sql = (
        f"SELECT id, {run_column}, {type_column}, actor, action, metadata, timestamp "
        f"FROM events WHERE {where} ORDER BY id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    try:
        return rows_to_events(conn.execute(sql, params).fetchall(), run, kind)
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc


def query_events_salvaging(
    path: Path,
    run_id: str | None = None,
    type: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
    actor: str | None = None,
) -> tuple[list[Event], EventLogError | None]:
    """Like `query_events`, but on a damaged log: what is readable, and the damage found."""
    try:
        return query_events(path, run_id, type, after_id, limit, actor), None
    except EventLogError as exc:
        if exc.kind != "corrupt":
            raise
        damage = exc
    conn = reader(path)
    assert conn is not None
    where, params = _where(run_id, type, 0, actor)
    sql = f"SELECT {_COLUMNS} FROM events NOT INDEXED WHERE id > ? AND {where} ORDER BY id"
    top = _top_id(conn)
    events: list[Event] = []
    last, misses = after_id, 0
    while limit is None or len(events) < limit:
        cursor = conn.cursor()
        try:
            for row in cursor.execute(sql, [last, *params]):
                events.append(row_to_event(row))
                last, misses = row[0], 0
                if limit is not None and len(events) >= limit:
                    break
            break
        except sqlite3.DatabaseError:
            # Skip the damaged stretch: try further and further past the last event read.
            last += 1 << misses
            misses += 1
            if misses > 62 or (top is not None and last >= top):
                break
        finally:
            cursor.close()  # ends the read transaction (a cached connection must not keep one)
    return events, damage


def _top_id(conn: sqlite3.Connection) -> int | None:
    for sql in ("SELECT max(id) FROM events", "SELECT seq FROM sqlite_sequence WHERE name = 'events'"):
        try:
            row = conn.execute(sql).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0] is not None:
            return int(row[0])
    return None


def list_runs(path: Path, limit: int = 50) -> list[RunRecord]:
    return _runs(path, "ORDER BY started_at DESC LIMIT ?", (limit,))


def list_running_runs(path: Path) -> list[RunRecord]:
    return _runs(path, "WHERE status = 'running'", ())


def _runs(path: Path, tail: str, params: tuple[Any, ...]) -> list[RunRecord]:
    conn = reader(path)
    if conn is None:
        return []
    try:
        rows = conn.execute(
            f"SELECT run_id, spec, started_at, finished_at, status, pid FROM runs {tail}", params
        )
        return [RunRecord(*row) for row in rows.fetchall()]
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc


def last_run_id(path: Path) -> str | None:
    """The latest run; on a log whose runs table is damaged, the latest run the events name."""
    try:
        runs = list_runs(path, 1)
    except EventLogError as exc:
        if exc.kind != "corrupt":
            raise
        events, _damage = query_events_salvaging(path, type="run_started")
        return events[-1].run_id if events else None
    return runs[0].run_id if runs else None

"""The SQLite backend of the event log (the default): one file per workspace, in WAL mode.

Writes are the group commits `store.EventLog` hands its writer thread: one ``BEGIN IMMEDIATE``
transaction a batch, the rows in a few multi-row ``INSERT`` statements (`fast.insert_rows`);
SQLite's write lock makes the ids of a batch consecutive. With ``synchronous=NORMAL`` a committed
batch survives the death of the process (kill -9). Reads are `read`'s functions on the reading
thread's cached connection; a follower waits by watching the file and its WAL change.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import Event

from counterpoint.engine.log.base import EventLogError, RunRecord
from counterpoint.engine.log.fast import insert_rows
from counterpoint.engine.log.read import (
    forget,
    last_run_id,
    list_running_runs,
    list_runs,
    query_events,
    query_events_salvaging,
)
from counterpoint.engine.log.schema import BUSY_TIMEOUT_MS, connect, explain, prepare

POLL_S = 0.02
"""How often a follower looks at the file for a change (a `stat` of it and its WAL)."""


class SqliteBackend:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self.secrets: tuple[str, ...] = ()
        self._conn: sqlite3.Connection | None = None

    def prepare(self) -> None:
        """Create, check, upgrade and test-write the log; `EventLogError` when it is unusable."""

        def attempt() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path, write=False)  # no change to the file before it is checked
            try:
                prepare(conn, self.path)
            finally:
                conn.close()

        self._patiently(attempt)

    def open_writer(self) -> None:
        def attempt() -> None:
            self._conn = connect(self.path)

        self._patiently(attempt)

    def _patiently(self, attempt: Callable[[], None]) -> None:
        """``attempt`` (blocking), again while the file is busy: SQLite answers some lock waits
        at once instead of through its busy timeout (switching a new file to WAL while another
        process opens it too), so many processes opening one new log at once would be refused."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.01
        while True:
            try:
                attempt()
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() >= deadline:
                    raise explain(exc, self.path) from exc
            except (sqlite3.Error, OSError) as exc:
                raise explain(exc, self.path) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def write(self, batch: list[Any]) -> int:
        conn = self._conn
        if conn is None:
            raise EventLogError(f"{self.path}: not open")
        try:
            # One transaction under the write lock: the rows get consecutive ids.
            conn.execute("BEGIN IMMEDIATE")
            insert_rows(conn, batch)
            last: int = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole batch failed
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise explain(exc, self.path) from exc
        return last - len(batch) + 1

    def close_writer(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def record_run(self, run_id: str, spec: str, started_at: str, pid: int) -> None:
        self._exec(
            "INSERT OR REPLACE INTO runs (run_id, spec, started_at, status, pid) VALUES (?, ?, ?, 'running', ?)",
            (run_id, spec, started_at, pid),
        )

    def finish_run(self, run_id: str, finished_at: str, status: str) -> None:
        self._exec(
            "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", (finished_at, status, run_id)
        )

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            conn = connect(self.path)
            try:
                conn.execute(sql, params)
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            raise explain(exc, self.path) from exc

    def reader(self) -> SqliteReader:
        return SqliteReader(self.path)

    def explain(self, exc: BaseException) -> EventLogError:
        return explain(exc, self.path)


class SqliteReader:
    """`read`'s functions on one log file (their connections are cached per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._seen: tuple[float, ...] | None = None

    def query(
        self,
        run_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[Event]:
        return query_events(self.path, run_id, type, after_id, limit, actor)

    def query_salvaging(
        self,
        run_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> tuple[list[Event], EventLogError | None]:
        return query_events_salvaging(self.path, run_id, type, after_id, limit, actor)

    def runs(self, limit: int = 50) -> list[RunRecord]:
        return list_runs(self.path, limit)

    def running_runs(self) -> list[RunRecord]:
        return list_running_runs(self.path)

    def last_run_id(self) -> str | None:
        return last_run_id(self.path)

    def wait(self, timeout: float, run_id: str | None = None) -> bool:
        """Until the file or its WAL changes (size or time: a commit changes one) since the last
        wait returned (so a commit made while the caller queried is not missed), or ``timeout``.
        The first wait returns True at once."""
        deadline = time.monotonic() + timeout
        seen = self._seen
        if seen is None:
            self._seen = self._look()
            return True
        while True:
            now = self._look()
            if now != seen:
                self._seen = now
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_S, left))

    def _look(self) -> tuple[float, ...]:
        found: list[float] = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = os.stat(path)
            except OSError:
                found += [-1, -1]
                continue
            found += [st.st_size, st.st_mtime_ns]
        return tuple(found)

    def close(self) -> None:
        forget(self.path)

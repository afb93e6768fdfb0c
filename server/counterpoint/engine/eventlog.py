"""The append-only event log: SQLite in WAL mode, written by one thread with group commits.

`EventLog.append` never blocks the event loop: rows go to a writer thread that
commits whatever has queued up in one transaction, then resolves each append's
future and tells subscribers, in id order, on the loop's thread. An event that
`append` reported is committed to the WAL; with ``synchronous=NORMAL`` it
survives the death of the process (kill -9) — only a power cut or kernel crash
could lose the last transactions, which is the trade SQLite documents for WAL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import Event, utc_timestamp

from counterpoint.engine.redact import Redactor, default_redactor

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT,
    action TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    timestamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run_type ON events (run_id, type, id);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    pid INTEGER
);
"""

Subscriber = Callable[[Event], None]
_Row = tuple[str, str, str | None, str | None, str, str]
_STOP = object()
MAX_BATCH = 5000


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def row_to_event(row: tuple[Any, ...]) -> Event:
    return Event(
        id=row[0],
        run_id=row[1],
        type=row[2],
        actor=row[3],
        action=row[4],
        metadata=json.loads(row[5]),
        timestamp=row[6],
    )


@dataclass
class RunRecord:
    run_id: str
    spec: str
    started_at: str
    finished_at: str | None
    status: str
    pid: int | None


class EventLog:
    """An open event log. Use `await EventLog.open(path)` and `await log.close()`."""

    def __init__(self, path: Path, redactor: Redactor | None = None) -> None:
        self.path = path
        self.redactor = redactor or default_redactor()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._subscribers: list[Subscriber] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.appended = 0

    @classmethod
    async def open(cls, path: Path, redactor: Redactor | None = None) -> EventLog:
        self = cls(path, redactor)
        await asyncio.to_thread(self._init_db)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._writer, name="counterpoint-eventlog", daemon=True)
        self._thread.start()
        return self

    def _init_db(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path)
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    # -- writing ---------------------------------------------------------------------------

    def _row(
        self, run_id: str, type: str, actor: str | None, action: str | None, metadata: dict[str, Any] | None
    ) -> tuple[_Row, dict[str, Any]]:
        if self._closed or self._loop is None:
            raise RuntimeError("event log is closed")
        meta = self.redactor.data(metadata) if metadata else {}
        if action is not None:
            action = self.redactor.text(action)
        return (run_id, str(type), actor, action, json.dumps(meta, default=str), utc_timestamp()), meta

    def emit(
        self,
        run_id: str,
        type: str,
        actor: str | None = None,
        action: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Queue an event without waiting for it (the log keeps the order; `flush` waits)."""
        row, meta = self._row(run_id, type, actor, action, metadata)
        self._queue.put((row, None, meta))

    def append_nowait(
        self,
        run_id: str,
        type: str,
        actor: str | None = None,
        action: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> asyncio.Future[Event]:
        """Queue an event; the future resolves with the stored event once it is committed."""
        row, meta = self._row(run_id, type, actor, action, metadata)
        assert self._loop is not None
        future: asyncio.Future[Event] = self._loop.create_future()
        self._queue.put((row, future, meta))
        return future

    async def append(
        self,
        run_id: str,
        type: str,
        actor: str | None = None,
        action: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        return await self.append_nowait(run_id, type, actor, action, metadata)

    def _writer(self) -> None:
        conn = connect(self.path)
        try:
            while True:
                item = self._queue.get()
                batch: list[Any] = []
                barriers: list[_Barrier] = []
                stop = False
                while True:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, _Barrier):
                        barriers.append(item)
                    else:
                        batch.append(item)
                    if stop or len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._write_batch(conn, batch)
                for barrier in barriers:
                    self._release(barrier)
                if stop:
                    return
        finally:
            conn.close()

    def _release(self, barrier: _Barrier) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(_resolve, barrier.done)
            except RuntimeError:
                pass

    def _write_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        events: list[tuple[asyncio.Future[Event] | None, Event | BaseException]] = []
        try:
            # One transaction under the write lock: the rows get consecutive ids.
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO events (run_id, type, actor, action, metadata, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
                [item[0] for item in batch],
            )
            last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            conn.execute("COMMIT")
            first = last - len(batch) + 1
            for offset, (row, future, meta) in enumerate(batch):
                event = Event.model_construct(
                    id=first + offset,
                    run_id=row[0],
                    type=row[1],
                    actor=row[2],
                    action=row[3],
                    metadata=meta,
                    timestamp=row[5],
                )
                events.append((future, event))
        except BaseException as exc:  # the whole batch failed: report it to every waiter
            log.exception("event log write failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            events = [(item[1], exc) for item in batch]
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._deliver, events)
            except RuntimeError:  # loop closed meanwhile
                pass

    def _deliver(self, events: list[tuple[asyncio.Future[Event] | None, Event | BaseException]]) -> None:
        for future, result in events:
            if isinstance(result, BaseException):
                if future is not None and not future.done():
                    future.set_exception(result)
                continue
            self.appended += 1
            if future is not None and not future.done():
                future.set_result(result)
            for subscriber in list(self._subscribers):
                try:
                    subscriber(result)
                except Exception:
                    log.exception("event subscriber failed")

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(event)` on the loop for every committed event; returns unsubscribe."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    async def flush(self) -> None:
        """Wait until everything appended so far is committed and delivered."""
        if self._closed or self._loop is None:
            return
        done: asyncio.Future[None] = self._loop.create_future()
        self._queue.put(_Barrier(done))
        await done

    async def close(self) -> None:
        if self._closed:
            return
        await self.flush()
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    # -- runs table --------------------------------------------------------------------------

    async def record_run(self, run_id: str, spec: str, pid: int) -> None:
        await asyncio.to_thread(
            self._exec,
            "INSERT OR REPLACE INTO runs (run_id, spec, started_at, status, pid) VALUES (?, ?, ?, 'running', ?)",
            (run_id, spec, utc_timestamp(), pid),
        )

    async def finish_run(self, run_id: str, status: str) -> None:
        await asyncio.to_thread(
            self._exec,
            "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
            (utc_timestamp(), status, run_id),
        )

    async def running_runs(self) -> list[RunRecord]:
        """Runs the table says are running, of any process (stale rows of dead processes included)."""
        return await asyncio.to_thread(list_running_runs, self.path)

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        conn = connect(self.path)
        try:
            conn.execute(sql, params)
        finally:
            conn.close()

    # -- reading -----------------------------------------------------------------------------

    async def query(
        self,
        run_id: str | None = None,
        type: str | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[Event]:
        return await asyncio.to_thread(query_events, self.path, run_id, type, after_id, limit, actor)

    async def runs(self, limit: int = 50) -> list[RunRecord]:
        return await asyncio.to_thread(list_runs, self.path, limit)


class _Barrier:
    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def query_events(
    path: Path,
    run_id: str | None = None,
    type: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
    actor: str | None = None,
) -> list[Event]:
    """Read events (blocking; call from a thread in async code)."""
    clauses, params = ["id > ?"], [after_id]
    if run_id is not None:
        clauses.append("run_id = ?")
        params.append(run_id)  # type: ignore[arg-type]
    if type is not None:
        clauses.append("type = ?")
        params.append(type)  # type: ignore[arg-type]
    if actor is not None:
        clauses.append("actor = ?")
        params.append(actor)  # type: ignore[arg-type]
    sql = "SELECT id, run_id, type, actor, action, metadata, timestamp FROM events WHERE "
    sql += " AND ".join(clauses) + " ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    conn = connect(path)
    try:
        return [row_to_event(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def list_runs(path: Path, limit: int = 50) -> list[RunRecord]:
    conn = connect(path)
    try:
        rows = conn.execute(
            "SELECT run_id, spec, started_at, finished_at, status, pid FROM runs"
            " ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
    finally:
        conn.close()
    return [RunRecord(*row) for row in rows]


def list_running_runs(path: Path) -> list[RunRecord]:
    conn = connect(path)
    try:
        rows = conn.execute(
            "SELECT run_id, spec, started_at, finished_at, status, pid FROM runs WHERE status = 'running'"
        ).fetchall()
    finally:
        conn.close()
    return [RunRecord(*row) for row in rows]


def last_run_id(path: Path) -> str | None:
    runs = list_runs(path, 1)
    return runs[0].run_id if runs else None

"""The append-only event log: written by one thread with group commits, kept by a backend.

`EventLog.append` never blocks the event loop: rows go to a writer thread that
commits whatever has queued up in one transaction, then resolves each append's
future and tells subscribers, in id order, on the loop's thread. An event that
`append` reported is committed. The backend (`base.LogBackend`) is SQLite by default
(`sqlite`: WAL with ``synchronous=NORMAL``, so a committed event survives the death of the
process — kill -9 — and only a power cut or kernel crash could lose the last transactions,
which is the trade SQLite documents for WAL), or PostgreSQL (`pg`: committed on the server).

Opening checks the log (schema version and migrations, one clear `EventLogError` per failure)
and proves it writable, so a log that cannot record a run fails before the run starts. A write
that fails later (a full disk, a lost server) fails the appends waiting on it, sets `failure`
and tells `on_failure` listeners once: the engine stops its runs and the faces show the
one-line error. Reads run on the log's one reader thread; `follow` (in `follow`) reads what
other processes append.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from counterpoint_protocol.events import Event, utc_timestamp

from counterpoint.engine.log.base import EventLogError, LogBackend, RunRecord
from counterpoint.engine.log.fast import clean_metadata, deliver, stamp
from counterpoint.engine.log.follow import Follower
from counterpoint.engine.log.read import (
    last_run_id,
    list_running_runs,
    list_runs,
    query_events,
    query_events_salvaging,
    row_to_event,
)
from counterpoint.engine.log.schema import SCHEMA, connect
from counterpoint.engine.log.sqlite import SqliteBackend
from counterpoint.engine.workspace import Redactor

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]
FailureListener = Callable[[EventLogError], None]
_Item = tuple[str, str, str | None, str | None, str, str, "asyncio.Future[Event] | None", dict[str, Any]]
"""A queued event: run_id, type, actor, action, metadata JSON, timestamp (the row), waiter, metadata."""
_STOP = object()
MAX_BATCH = 5000

__all__ = [
    "SCHEMA",
    "EventLog",
    "EventLogError",
    "RunRecord",
    "connect",
    "last_run_id",
    "list_running_runs",
    "list_runs",
    "query_events",
    "query_events_salvaging",
    "row_to_event",
]


_T = TypeVar("_T")


class EventLog:
    """An open event log. Use `await EventLog.open(path)` and `await log.close()`."""

    def __init__(self, backend: LogBackend | Path, redactor: Redactor | None = None) -> None:
        self.backend: LogBackend = SqliteBackend(backend) if isinstance(backend, Path) else backend
        self.location = self.backend.location
        """Where the log is, for messages (a path, or a database URL without its password)."""
        self.redactor = redactor or Redactor()
        """This log's own: the secrets a run of this workspace adds stay out of other workspaces' logs."""
        for secret in self.backend.secrets:
            self.redactor.add(secret)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._subscribers: tuple[Subscriber, ...] = ()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.appended = 0
        self.failure: EventLogError | None = None
        """The first write failure, once one happened (the log keeps trying later writes)."""
        self.lost = 0
        """Events that could not be recorded."""
        self._failure_listeners: list[FailureListener] = []
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counterpoint-eventlog-read")
        """The one thread this log is read in: its connection is kept open there (and only there),
        so the open files stay the same however many threads the loop's executor grows."""
        self._reader = self.backend.reader()
        self._followers: set[Follower] = set()

    @classmethod
    async def open(cls, backend: LogBackend | Path, redactor: Redactor | None = None) -> EventLog:
        """Open the log at a path (SQLite) or on a backend; `EventLogError` when it is unusable."""
        self = cls(backend, redactor)
        await asyncio.to_thread(self.backend.prepare)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._writer, name="counterpoint-eventlog", daemon=True)
        self._thread.start()
        return self

    # -- writing ---------------------------------------------------------------------------

    def _item(
        self,
        run_id: str,
        type: str,
        actor: str | None,
        action: str | None,
        metadata: dict[str, Any] | None,
        future: asyncio.Future[Event] | None,
    ) -> _Item:
        """What the writer gets: the row (redacted, encoded, stamped), then the waiter and the
        metadata (one flat tuple: every object an event keeps alive costs the garbage collector)."""
        if metadata:
            text, meta = clean_metadata(self.redactor, metadata)
        else:
            text, meta = "{}", {}
        if action is not None:
            action = self.redactor.text(action)
        return run_id, str(type), actor, action, text, stamp(), future, meta

    def emit(
        self,
        run_id: str,
        type: str,
        actor: str | None = None,
        action: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Queue an event without waiting for it (the log keeps the order; `flush` waits)."""
        if self._closed or self._loop is None:
            raise RuntimeError("event log is closed")
        self._queue.put(self._item(run_id, type, actor, action, metadata, None))

    def append_nowait(
        self,
        run_id: str,
        type: str,
        actor: str | None = None,
        action: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> asyncio.Future[Event]:
        """Queue an event; the future resolves with the stored event once it is committed."""
        loop = self._loop
        if self._closed or loop is None:
            raise RuntimeError("event log is closed")
        future: asyncio.Future[Event] = loop.create_future()
        self._queue.put(self._item(run_id, type, actor, action, metadata, future))
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
        backend = self.backend
        try:
            backend.open_writer()
            opened = True
        except EventLogError as exc:
            opened = False
            self._failed(exc, 0)
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
                if batch and opened:
                    self._write_batch(batch)
                elif batch:
                    self._fail_batch(batch, self.failure or EventLogError(f"{self.location}: not open"))
                for barrier in barriers:
                    self._release(barrier)
                if stop:
                    return
        finally:
            if opened:
                backend.close_writer()

    def _release(self, barrier: _Barrier) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, barrier.done)

    def _write_batch(self, batch: list[Any]) -> None:
        try:
            first = self.backend.write(batch)
        except BaseException as exc:  # the whole batch failed: report it to every waiter
            self._fail_batch(batch, self.backend.explain(exc))
            return
        # Committed: the loop builds the events and resolves the futures (this thread keeps
        # the GIL as little as it can, so the producers on the loop are not slowed down).
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                self._loop.call_soon_threadsafe(self._deliver, batch, first)

    def _fail_batch(self, batch: list[Any], error: EventLogError) -> None:
        self._failed(error, len(batch))
        failed = [item[6] for item in batch if item[6] is not None]
        if failed and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_fail_all, failed, error)

    def _failed(self, error: EventLogError, count: int) -> None:
        """Note a write failure (any thread); listeners hear of the first one, on the loop."""
        self.lost += count
        if self.failure is not None:
            return
        self.failure = error
        log.info("event log write failed: %s", error)
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._tell_failure, error)

    def _tell_failure(self, error: EventLogError) -> None:
        for listener in list(self._failure_listeners):
            try:
                listener(error)
            except Exception:
                log.exception("event log failure listener failed")

    def on_failure(self, listener: FailureListener) -> None:
        """Call ``listener(error)`` on the loop when a write first fails (the run cannot be recorded)."""
        self._failure_listeners.append(listener)

    def _deliver(self, batch: list[Any], first: int) -> None:
        """On the loop: the committed batch (ids from ``first``) as events, to waiters, then subscribers."""
        self.appended += len(batch)
        subscribers = self._subscribers
        events = deliver(batch, first, bool(subscribers))
        if subscribers:
            for event in events:
                # A tuple, replaced (not changed) on (un)subscribe: one unsubscribed by an earlier
                # event of the batch hears no more.
                for subscriber in self._subscribers:
                    try:
                        subscriber(event)
                    except Exception:
                        log.exception("event subscriber failed")

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(event)` on the loop for every committed event; returns unsubscribe."""
        self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                rest = list(self._subscribers)
                rest.remove(subscriber)
                self._subscribers = tuple(rest)

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
        for follower in list(self._followers):
            follower.stop()
        await self.flush()
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)
        await self.read_in_thread(self._reader.close)  # the reader thread's kept connection
        self._reads.shutdown(wait=False)

    # -- runs table --------------------------------------------------------------------------

    async def record_run(self, run_id: str, spec: str, pid: int) -> None:
        """Record a run as running; raises `EventLogError` (before any agent starts) on failure."""
        await asyncio.to_thread(self.backend.record_run, run_id, spec, utc_timestamp(), pid)

    async def finish_run(self, run_id: str, status: str) -> None:
        """Record how a run ended; a failure is noted (`failure`), not raised: the run is over."""
        try:
            await asyncio.to_thread(self.backend.finish_run, run_id, utc_timestamp(), status)
        except EventLogError as exc:
            self._failed(exc, 1)

    async def running_runs(self) -> list[RunRecord]:
        """Runs the table says are running, of any process (stale rows of dead processes included)."""
        return await self.read_in_thread(self._reader.running_runs)

    # -- reading -----------------------------------------------------------------------------

    async def read_in_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking read of this log (``fn(*args)``) on the log's reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, functools.partial(fn, *args))

    def read_events(
        self, run_id: str | None = None, type: str | None = None, after_id: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Blocking `query`: only in a function given to `read_in_thread` (a report's pages)."""
        return self._reader.query(run_id, type, after_id, limit)

    async def query(
        self,
        run_id: str | None = None,
        type: str | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[Event]:
        return await self.read_in_thread(self._reader.query, run_id, type, after_id, limit, actor)

    async def runs(self, limit: int = 50) -> list[RunRecord]:
        return await self.read_in_thread(self._reader.runs, limit)

    def follow(
        self, run_id: str | None, after_id: int, on_events: Callable[[list[Event]], None]
    ) -> Callable[[], None]:
        """Call ``on_events(events)`` on the loop with every event of ``run_id`` (None: of every
        run) after ``after_id`` that any process commits, in id order, until the returned stop
        is called or the log closes. Errors of the reads are retried (a follower outlives a
        restart of the database)."""
        if self._loop is None or self._closed:
            raise RuntimeError("event log is closed")
        follower = Follower(self.backend.reader, run_id, after_id, on_events, self._loop)
        self._followers.add(follower)
        follower.start()

        def stop() -> None:
            self._followers.discard(follower)
            follower.stop()

        return stop


class _Barrier:
    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done


def _fail_all(futures: list[asyncio.Future[Event]], error: EventLogError) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(error)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

"""The seam between the event log (`store.EventLog`: queue, group commits, futures, subscribers)
and where its events are kept: a `LogBackend` (SQLite in `sqlite`, PostgreSQL in `pg`).

`EventLog` is the one class the engine and the faces use, whatever the backend. A backend only
stores and reads rows; it is called from the log's own threads (its writer thread writes, its
reader thread reads), never from the event loop. A `LogReader` is one thread's reading side
(SQLite: the per-thread connection cache of `read`; PostgreSQL: one connection of its own), and
`wait` is how a follower (``counterpoint events --follow``, `EventLog.follow`) sleeps until an
append may have been committed by any process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from counterpoint_protocol.events import Event


class EventLogError(Exception):
    """The event log cannot be used; ``str(error)`` is one line saying what is wrong and what to do."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class RunRecord:
    run_id: str
    spec: str
    started_at: str
    finished_at: str | None
    status: str
    pid: int | None


class LogReader(Protocol):
    """Reads of one log from one thread (blocking). Raises `EventLogError`."""

    location: str

    def query(
        self,
        run_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[Event]:
        """Events in id order (no log yet: none)."""
        ...

    def query_salvaging(
        self,
        run_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> tuple[list[Event], EventLogError | None]:
        """`query`, and on a damaged log what is still readable and the damage found."""
        ...

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """This workspace's runs, the latest first."""
        ...

    def running_runs(self) -> list[RunRecord]:
        """This workspace's runs the log says are running (stale rows of dead processes too)."""
        ...

    def last_run_id(self) -> str | None: ...

    def wait(self, timeout: float, run_id: str | None = None) -> bool:
        """Sleep until an append (of ``run_id``, when given: a hint) may have been committed by any
        process since the last wait returned: True; or ``timeout`` s passed: False."""
        ...

    def close(self) -> None: ...


class LogBackend(Protocol):
    """Where an `EventLog` keeps its events. Every method blocks: the log calls them in its threads."""

    location: str
    """Where the log is, for messages: a path, or a database URL without its password."""
    secrets: tuple[str, ...]
    """Values the log's redactor must keep out of every event (a password in the URL)."""

    def prepare(self) -> None:
        """Create, check (schema version) and prove writable; `EventLogError` when unusable."""
        ...

    def open_writer(self) -> None:
        """Open the writer's connection (in the writer thread)."""
        ...

    def write(self, batch: list[Any]) -> int:
        """Commit the rows (each item's first six values: run_id, type, actor, action, metadata
        JSON, timestamp) in one transaction, ids consecutive in batch order; returns the first id.
        Raises `EventLogError` (nothing of the batch committed)."""
        ...

    def close_writer(self) -> None: ...

    def record_run(self, run_id: str, spec: str, started_at: str, pid: int) -> None: ...

    def finish_run(self, run_id: str, finished_at: str, status: str) -> None: ...

    def reader(self) -> LogReader:
        """A new reading side, to be used from one thread."""
        ...

    def explain(self, exc: BaseException) -> EventLogError: ...

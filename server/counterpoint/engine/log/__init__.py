"""The event log room: one writer thread with group commits and one reader thread (store) over a
backend (base): the workspace's SQLite file in WAL mode (sqlite, read, schema), or a PostgreSQL
database (pg, pg_schema; chosen by the user: where); the per-event fast path (fast); following
what other processes append (follow); one-line `EventLogError` for every failure.
"""

from __future__ import annotations

from counterpoint.engine.log.base import EventLogError, LogReader, RunRecord
from counterpoint.engine.log.read import query_events
from counterpoint.engine.log.store import EventLog, last_run_id, query_events_salvaging
from counterpoint.engine.log.where import events_url, migrate, open_event_log, open_reader

__all__ = [
    "EventLog",
    "EventLogError",
    "LogReader",
    "RunRecord",
    "events_url",
    "last_run_id",
    "migrate",
    "open_event_log",
    "open_reader",
    "query_events",
    "query_events_salvaging",
]

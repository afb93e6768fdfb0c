"""The event log room: SQLite WAL, one writer thread (store), one reader thread (read), the
per-event fast path (fast), the versioned schema with migrations and `EventLogError` (schema).
"""

from __future__ import annotations

from counterpoint.engine.log.read import query_events
from counterpoint.engine.log.store import EventLog, EventLogError, last_run_id, query_events_salvaging

__all__ = ["EventLog", "EventLogError", "last_run_id", "query_events", "query_events_salvaging"]

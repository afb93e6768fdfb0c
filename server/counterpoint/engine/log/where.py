"""Which event log a workspace uses: its own SQLite file (the default), or a PostgreSQL database.

The database comes from the user, never from the workspace (whose specs and files agents and
strangers write: a spec that chose the log could send every run's events, and the secrets the
redactor did not know, to a server of its own): ``COUNTERPOINT_EVENTS_URL`` in the environment,
else ``"events"`` in the user settings (``$XDG_CONFIG_HOME/counterpoint/settings.json``), either
a ``postgresql://`` URL or ``sqlite`` (the default). The driver is imported only here, when a
PostgreSQL URL is configured (``pip install 'counterpoint[postgres]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from counterpoint.engine.log.base import EventLogError, LogBackend, LogReader
from counterpoint.engine.log.sqlite import SqliteBackend, SqliteReader
from counterpoint.engine.workspace import db_path, load_user_settings

if TYPE_CHECKING:
    from counterpoint.engine.log.store import EventLog

ENV = "COUNTERPOINT_EVENTS_URL"
SETTING = "events"


def events_url(root: Path | None = None) -> str | None:
    """The configured PostgreSQL URL, or None for the workspace's SQLite file (blocking: reads the
    user settings). `EventLogError` for a value that is neither."""
    value = os.environ.get(ENV)
    where = ENV
    if not value:
        configured = load_user_settings(root).get(SETTING)
        value = configured if isinstance(configured, str) else None
        where = f"the {SETTING!r} user setting"
    value = (value or "").strip()
    if not value or value == "sqlite":
        return None
    if value.startswith(("postgresql://", "postgres://")):
        return value
    shown = value.split("://", 1)[0] + "://…" if "://" in value else "a value that is no URL"
    raise EventLogError(
        f"{where} names {shown}: use a postgresql:// URL, or 'sqlite' for the workspace's own file", "config"
    )


def backend_for(root: Path | None, *, upgrade: bool = False) -> LogBackend:
    """The backend of the workspace at ``root`` (None: no workspace, a database's every run)."""
    url = events_url(root)
    if url is None:
        if root is None:
            raise EventLogError("no workspace and no events database configured", "config")
        return SqliteBackend(db_path(root))
    try:
        from counterpoint.engine.log.pg import PgBackend
    except ImportError as exc:
        raise EventLogError(
            f"the event log is a PostgreSQL database but its driver is missing ({exc.name or exc}): "
            "pip install 'counterpoint[postgres]'",
            "driver",
        ) from exc
    return PgBackend(url, str(root) if root is not None else None, upgrade=upgrade)


async def open_event_log(root: Path) -> EventLog:
    """The workspace's event log, open, checked and writable (`EventLogError` otherwise)."""
    import asyncio

    from counterpoint.engine.log.store import EventLog

    backend = await asyncio.to_thread(backend_for, root)
    return await EventLog.open(backend)


def open_reader(root: Path) -> LogReader | None:
    """A reader of the workspace's log for this thread (blocking); None: a SQLite log not made yet.
    Nothing is created or changed."""
    backend = backend_for(root)
    if isinstance(backend, SqliteBackend):
        return SqliteReader(backend.path) if backend.path.exists() else None
    return backend.reader()


def migrate(root: Path | None) -> tuple[str, int, int]:
    """Bring the workspace's PostgreSQL log to this version's schema (blocking): where, from, to."""
    backend = backend_for(root, upgrade=True)
    if isinstance(backend, SqliteBackend):  # SQLite files are upgraded when opened
        raise EventLogError("the event log is the workspace's SQLite file: it upgrades itself", "config")
    from counterpoint.engine.log.pg import PgBackend
    from counterpoint.engine.log.pg_schema import connect, latest, prepare

    assert isinstance(backend, PgBackend)

    try:
        with connect(backend.url, autocommit=True) as conn:
            before = prepare(conn, backend.location, upgrade=True)
    except Exception as exc:
        raise backend.explain(exc) from exc
    return backend.location, before, latest()

"""The event log's file: its versioned schema, its migrations, and one clear error per way it fails.

The schema version is SQLite's ``user_version``; `MIGRATIONS` step it up in order, each step in
one transaction. Databases written before versions existed (``user_version`` 0 with exactly our
tables) are version 1. A database of a newer version, or another application's SQLite file, is
refused and left untouched. Every ``sqlite3`` and ``OSError`` failure becomes an `EventLogError`
whose message says in one line what is wrong and what to do.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from counterpoint.engine.log.base import EventLogError

APPLICATION_ID = 0x43505431  # "CPT1": marks the file as a Counterpoint event log
BUSY_TIMEOUT_MS = 30_000

V1 = [
    """CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT,
    action TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    timestamp TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS events_run_type ON events (run_id, type, id)",
    """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    pid INTEGER
)""",
]
V2 = [
    # Listing runs (latest first) and finding the live ones no longer scan the table.
    "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)",
    "CREATE INDEX IF NOT EXISTS runs_status ON runs (status)",
    f"PRAGMA application_id = {APPLICATION_ID}",
]
MIGRATIONS: list[list[str]] = [V1, V2]
"""``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``."""
LATEST = len(MIGRATIONS)
SCHEMA = ";\n".join(V1) + ";\n"
"""Version 1, as the code before schema versions wrote it (kept for tests and benchmarks)."""

_EVENTS_COLUMNS = ["id", "run_id", "type", "actor", "action", "metadata", "timestamp"]


def connect(path: Path, *, write: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode; writers put the database in WAL mode."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if write:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def version(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of an open log; refuses another app's file and a newer schema."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables.discard("sqlite_sequence")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    ours = app_id == APPLICATION_ID or (
        app_id == 0 and {"events", "runs"} <= tables and columns == _EVENTS_COLUMNS
    )
    if not ours and (tables or current or app_id):
        names = ", ".join(sorted(tables)[:4]) or "none"
        raise EventLogError(
            f"{path} is not a Counterpoint event log (another application's SQLite file; tables: {names}); "
            "it was left untouched: move it aside and run again",
            "foreign",
        )
    if current > LATEST:
        raise EventLogError(
            f"{path} was written by a newer Counterpoint (log schema {current}, this one knows up to "
            f"{LATEST}): upgrade Counterpoint to use it",
            "newer",
        )
    return 1 if ours and current == 0 else current


def prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Check the file is ours (before changing anything in it), put it in WAL mode, create or
    upgrade the schema (in one transaction), then prove a write commits."""
    current = version(conn, path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if current < LATEST:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = version(conn, path)  # another process may have migrated meanwhile
            for step in MIGRATIONS[current:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {LATEST}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return
    # Already current: commit a one-page write, so a full disk or a read-only file fails here,
    # before any agent starts, not in the middle of a run.
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"PRAGMA user_version = {LATEST}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def check_readable(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse (`EventLogError`) what is not a readable log of a version this code knows."""
    if version(conn, path) == 0:
        raise EventLogError(f"{path} is empty: no runs yet", "empty")


def explain(exc: BaseException, path: Path) -> EventLogError:
    """The `EventLogError` for a failure of the log at ``path``: what is wrong, what to do."""
    if isinstance(exc, EventLogError):
        return exc
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    err = getattr(exc, "errno", None)
    if name == "SQLITE_FULL" or err == errno.ENOSPC or "disk is full" in text or _disk_full(name, path):
        return EventLogError(
            f"no space left on the disk holding {path}: free some space, then run again "
            "(`counterpoint resume` continues an interrupted run)",
            "full",
        )
    if name == "SQLITE_NOTADB" or "file is not a database" in text:
        return EventLogError(
            f"{path} is not an event log (not an SQLite database: damaged or another file): "
            f"move it aside (mv {path} {path}.bad) and run again",
            "notadb",
        )
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return EventLogError(
            f"{path} is damaged (SQLite: {text}): `counterpoint events --run all` shows what is still "
            "readable; move the file aside to start a new log",
            "corrupt",
        )
    if path.is_dir() or err == errno.EISDIR:
        return EventLogError(
            f"{path} is a folder, not the event log file: move it aside and run again", "folder"
        )
    if (
        name.startswith("SQLITE_READONLY")
        or err in (errno.EROFS, errno.EACCES, errno.EPERM)
        or ("readonly" in text)
    ):
        return EventLogError(
            f"{path} is read-only: make it and its folder writable (chmod u+w), then run again",
            "readonly",
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return EventLogError(
            f"{path} is locked by another process: wait for it to finish (or end it), then try again",
            "locked",
        )
    if err == errno.ENOTDIR:
        return EventLogError(
            f"cannot create {path}: a part of its folder path is a file; move that file aside", "folder"
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return EventLogError(
            f"cannot open {path}: check that its folder exists and is writable (chmod u+w)", "cantopen"
        )
    if name.startswith("SQLITE_IOERR") or "I/O error" in text or isinstance(exc, OSError):
        return EventLogError(f"disk I/O error on {path} ({text}): check the disk, then try again", "io")
    return EventLogError(f"the event log {path} failed ({text})", "error")


def _disk_full(name: str, path: Path) -> bool:
    """SQLite reports some writes on a full disk as I/O errors (the -shm or -wal could not grow)."""
    if not name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        return False
    try:
        return shutil.disk_usage(path.parent).free < 64 * 1024
    except OSError:
        return False

"""The PostgreSQL backend of the event log: a team's shared record, followed live from anywhere.

Writes are `store.EventLog`'s group commits: one transaction a batch that takes the writers' advisory
lock (`pg_schema.WRITE_LOCK`), allocates the batch's ids in one step of the identity sequence,
streams the rows with ``COPY``, and sends one ``NOTIFY`` (delivered at commit) naming the last id
and the batch's runs. The commit returns once the server has the batch in its WAL
(``synchronous_commit`` on for this session): an event reported as appended is committed.
A connection lost mid-batch fails that batch (its appends are not reported: they may or may not
be stored, never the other way round) and the next batch connects again.

Reads are SQLite's queries on a connection of the reading thread's own; a follower LISTENs on
it and wakes on the writers' notices. ``runs`` rows carry the host and workspace of the run, and
a backend opened for a workspace lists that workspace's runs (``last``, stale-run detection);
events are read by run id, whoever wrote them.
"""

from __future__ import annotations

import socket
from typing import Any

import psycopg
from counterpoint_protocol.events import Event

from counterpoint.engine.log.base import EventLogError, RunRecord
from counterpoint.engine.log.fast import rows_to_events
from counterpoint.engine.log.pg_schema import (
    CHANNEL,
    NAMESPACE,
    WRITE_LOCK,
    close_quietly,
    connect,
    explain,
    password_of,
    prepare,
    safe_url,
)

NOTICE_BYTES = 7000
"""A notice's payload stays under PostgreSQL's 8,000 bytes; past it, runs are not listed (``*``)."""
_COPY = f"COPY {NAMESPACE}.events (id, run_id, type, actor, action, metadata, timestamp) FROM STDIN"
_RUNS = f"SELECT run_id, spec, started_at, finished_at, status, pid FROM {NAMESPACE}.runs"


class PgBackend:
    def __init__(self, url: str, workspace: str | None = None, *, upgrade: bool = False) -> None:
        self.url = url
        self.location = safe_url(url)
        password = password_of(url)
        self.secrets: tuple[str, ...] = (password,) if password else ()
        self.workspace = workspace
        self.host = socket.gethostname()
        self.upgrade = upgrade
        self._conn: psycopg.Connection[Any] | None = None
        self._alloc = ""

    def explain(self, exc: BaseException) -> EventLogError:
        return explain(exc, self.location, self.secrets)

    def prepare(self) -> None:
        try:
            with connect(self.url, autocommit=True) as conn:
                prepare(conn, self.location, upgrade=self.upgrade)
        except Exception as exc:
            raise self.explain(exc) from exc

    # -- writing ------------------------------------------------------------------------------

    def open_writer(self) -> None:
        close_quietly(self._conn)
        self._conn = None
        try:
            conn = connect(self.url, autocommit=True)
            conn.execute("SET synchronous_commit TO on")
            row = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (f"{NAMESPACE}.events",)).fetchone()
            conn.autocommit = False
        except Exception as exc:
            raise self.explain(exc) from exc
        sequence = row[0] if row else f"{NAMESPACE}.events_id_seq"
        # The lock first (FROM), then the ids: consecutive, and in commit order across writers.
        self._alloc = (
            f"SELECT setval('{sequence}', nextval('{sequence}') + %s - 1) "
            f"FROM (SELECT pg_advisory_xact_lock({WRITE_LOCK})) AS locked"
        )
        self._conn = conn

    def write(self, batch: list[Any]) -> int:
        if self._conn is None or self._conn.closed:
            self.open_writer()  # a connection lost with an earlier batch
        conn = self._conn
        assert conn is not None
        count = len(batch)
        try:
            with conn.cursor() as cur:
                cur.execute(self._alloc, (count,))
                found = cur.fetchone()
                assert found is not None
                first = int(found[0]) - count + 1
                with cur.copy(_COPY) as copy:
                    write_row = copy.write_row
                    for id, item in enumerate(batch, first):
                        write_row((id, item[0], item[1], item[2], item[3], item[4], item[5]))
                cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, _notice(batch, first + count - 1)))
            conn.commit()
        except BaseException as exc:
            try:
                conn.rollback()
            except Exception:
                close_quietly(conn)
                self._conn = None
            raise self.explain(exc) from exc
        return first

    def close_writer(self) -> None:
        close_quietly(self._conn)
        self._conn = None

    # -- runs table ---------------------------------------------------------------------------

    def record_run(self, run_id: str, spec: str, started_at: str, pid: int) -> None:
        self._exec(
            f"INSERT INTO {NAMESPACE}.runs (run_id, spec, started_at, finished_at, status, pid, host, workspace) "
            "VALUES (%s, %s, %s, NULL, 'running', %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
            "spec = EXCLUDED.spec, started_at = EXCLUDED.started_at, finished_at = NULL, "
            "status = 'running', pid = EXCLUDED.pid, host = EXCLUDED.host, workspace = EXCLUDED.workspace",
            (run_id, spec, started_at, pid, self.host, self.workspace),
        )

    def finish_run(self, run_id: str, finished_at: str, status: str) -> None:
        self._exec(
            f"UPDATE {NAMESPACE}.runs SET finished_at = %s, status = %s WHERE run_id = %s",
            (finished_at, status, run_id),
        )

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            with connect(self.url, autocommit=True) as conn:
                conn.execute(sql, params)
        except Exception as exc:
            raise self.explain(exc) from exc

    def reader(self) -> PgReader:
        scope = (self.host, self.workspace) if self.workspace is not None else None
        return PgReader(self.url, self.location, self.secrets, scope)


def _notice(batch: list[Any], last: int) -> str:
    runs = sorted({item[0] for item in batch})
    text = f"{last} {' '.join(runs)}"
    return text if len(text.encode()) <= NOTICE_BYTES else f"{last} *"


class PgReader:
    """One thread's reads: a connection of its own (autocommit: each query sees what is committed)."""

    def __init__(
        self, url: str, location: str, secrets: tuple[str, ...], scope: tuple[str, str] | None
    ) -> None:
        self.url = url
        self.location = location
        self.secrets = secrets
        self.scope = scope
        """(host, workspace) whose runs `runs` lists; None: every run in the database."""
        self._conn: psycopg.Connection[Any] | None = None
        self._listening = False

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._listening = False
            try:
                self._conn = connect(self.url, autocommit=True)
            except Exception as exc:
                raise explain(exc, self.location, self.secrets) from exc
        return self._conn

    def _fetch(self, sql: str, params: list[Any] | tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows; a connection found dead (a restarted server) is replaced once: reads repeat."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return conn.execute(sql, params).fetchall()
            except Exception as exc:
                if not (conn.broken or conn.closed):
                    raise explain(exc, self.location, self.secrets) from exc
                close_quietly(conn)
                self._conn = None
                if attempt == 2:
                    raise explain(exc, self.location, self.secrets) from exc
        raise AssertionError("unreachable")

    def query(
        self,
        run_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[Event]:
        clauses: list[str] = ["id > %s"]
        params: list[Any] = [after_id]
        for column, value in (("run_id", run_id), ("type", type), ("actor", actor)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        run = None if run_id is None else str(run_id)
        kind = None if type is None else str(type)
        sql = (
            f"SELECT id, {'run_id' if run is None else 'NULL'}, {'type' if kind is None else 'NULL'}, "
            f"actor, action, metadata, timestamp FROM {NAMESPACE}.events "
            f"WHERE {' AND '.join(clauses)} ORDER BY id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return rows_to_events(self._fetch(sql, params), run, kind)

    def query_salvaging(
        self,
        run_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> tuple[list[Event], EventLogError | None]:
        return self.query(run_id, type, after_id, limit, actor), None  # the server keeps it whole

    def _runs(self, where: str, params: tuple[Any, ...], tail: str = "") -> list[RunRecord]:
        if self.scope is not None:
            where = f"{where} AND host = %s AND workspace = %s" if where else "host = %s AND workspace = %s"
            params = (*params, *self.scope)
        sql = f"{_RUNS} WHERE {where} {tail}" if where else f"{_RUNS} {tail}"
        return [RunRecord(*row) for row in self._fetch(sql, params)]

    def runs(self, limit: int = 50) -> list[RunRecord]:
        return self._runs("", (), f"ORDER BY started_at DESC LIMIT {int(limit)}")

    def running_runs(self) -> list[RunRecord]:
        return self._runs("status = 'running'", ())

    def last_run_id(self) -> str | None:
        runs = self.runs(1)
        return runs[0].run_id if runs else None

    def wait(self, timeout: float, run_id: str | None = None) -> bool:
        """Until a writer's notice (of ``run_id``'s batch, when given) or ``timeout``. The first wait
        starts listening and returns True at once (the caller reads again: nothing is missed)."""
        conn = self._connection()
        try:
            if not self._listening:
                conn.execute(f"LISTEN {CHANNEL}")
                self._listening = True
                return True
            woken = False
            for notice in conn.notifies(timeout=timeout, stop_after=1):  # drains what came meanwhile
                runs = notice.payload.split(" ")[1:]
                woken = woken or run_id is None or run_id in runs or "*" in runs
            return woken
        except Exception as exc:
            close_quietly(conn)
            self._conn = None
            raise explain(exc, self.location, self.secrets) from exc

    def close(self) -> None:
        close_quietly(self._conn)
        self._conn = None

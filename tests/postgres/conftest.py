"""A real PostgreSQL server for this folder's tests (one per test run, shared by the xdist workers)
and a fresh database for each test, named to the engine by ``COUNTERPOINT_EVENTS_URL``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.support.postgres_server import Server, drop_database, fresh_database, release, shared_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    server = shared_server(os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)
    yield server
    release(server)


@pytest.fixture
def pg_database(pg_server: Server) -> Iterator[str]:
    name = fresh_database(pg_server)
    yield name
    drop_database(pg_server, name)


@pytest.fixture
def pg_url(pg_server: Server, pg_database: str) -> str:
    return pg_server.url(pg_database)


@pytest.fixture
def events_db(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database as the event log of every engine this process (and its children) opens."""
    monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", pg_url)
    return pg_url

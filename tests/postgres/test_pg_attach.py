"""``counterpoint.attach``: a language server shows a run that another process runs — on another
"machine" (another copy of the workspace at another path, its events in the shared PostgreSQL
database), or in a terminal of this workspace (its SQLite file) — with the run's progress, its
findings as diagnostics on this workspace's file while it runs, and its end; no password of the
database URL reaches the editor. With VS Code's and Neovim's client capabilities."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.uris import to_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import SPEC_NAME, backend_waits_for_the_first_test_report, copy_example
from tests.lsp.conftest import CLIENTS, make_client
from tests.lsp.helpers import events_of, execute, get, wait_for
from tests.support.cli import start_cli
from tests.support.postgres_server import Server

PASSWORD = "pg-secret-never-shown"
PAGES = "app/web/pages.py"


async def start_client(capabilities: str, workspace: Path, env: dict[str, str]) -> LanguageClient:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "counterpoint", "lsp"],
        client_factory=make_client,
        server_env=env,
    )
    client = await config.start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(capabilities),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={"trust": True},
        )
    )
    return client


@asynccontextmanager
async def server_and_run(
    capabilities: str, workspace: Path, spec: Path, env: dict[str, str]
) -> AsyncIterator[tuple[LanguageClient, subprocess.Popen[str]]]:
    """A language server on ``workspace``, and ``counterpoint run spec`` in a process of its own (as
    in a terminal, maybe of another machine); the run killed if still going, the server stopped."""
    client = await start_client(capabilities, workspace, env)
    proc = start_cli("run", "--trust", "--quiet", spec, cwd=spec.parent, env=env)
    try:
        yield client, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await client.shutdown_session()
        await client.stop()


async def started_run(find: Any, proc: subprocess.Popen[str]) -> str:
    for _ in range(1200):
        found = await asyncio.to_thread(find)
        if found:
            return str(found)
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it was seen: {proc.communicate()}")
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not start")


async def watch_diagnostics(client: LanguageClient, path: Path, seen: list[types.Diagnostic]) -> None:
    """Every diagnostic of ``path`` from the ``tests`` check ever published (polled: the client keeps
    only the last publish)."""
    while True:
        for uri, diagnostics in list(client.diagnostics.items()):
            if to_fs_path(uri) == str(path):
                seen.extend(d for d in diagnostics if d.source == "counterpoint/tests" and d not in seen)
        await asyncio.sleep(0.02)


async def attach_and_follow(
    client: LanguageClient, run_id: str, local_pages: Path, spec: Path
) -> dict[str, Any]:
    seen: list[types.Diagnostic] = []
    watcher = asyncio.create_task(watch_diagnostics(client, local_pages, seen))
    try:
        result = await execute(client, Commands.ATTACH, {"runId": run_id})
        assert get(result, "runId") == run_id
        assert get(result, "spec") == str(spec)
        assert get(result, "state") == "running" and get(result, "following") is True, result
        await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=150)
        (finished,) = events_of(client, run_id, "run_finished")
        assert get(finished, "action") == "succeeded"
        # The finding of the `tests` check was shown on this workspace's file while the run went on.
        await wait_for(lambda: seen, timeout=10)
        assert "enroll_student" in seen[0].message
        # ... and cleared once the integrator's fix passed the check.
        await wait_for(
            lambda: (
                not [
                    d
                    for uri, ds in client.diagnostics.items()
                    if to_fs_path(uri) == str(local_pages)
                    for d in ds
                    if d.source == "counterpoint/tests"
                ]
            ),
            timeout=20,
        )
    finally:
        watcher.cancel()
    run_progress = f"counterpoint/run/{run_id}"
    if client.capabilities and client.capabilities.window and client.capabilities.window.work_done_progress:
        await wait_for(lambda: run_progress in client.progress_reports, timeout=10)
        kinds = [type(v).__name__ for v in client.progress_reports[run_progress]]
        assert kinds[0] == "WorkDoneProgressBegin"
        await wait_for(
            lambda: type(client.progress_reports[run_progress][-1]).__name__ == "WorkDoneProgressEnd", 10
        )
    await wait_for(lambda: any("succeeded" in m.message and run_id in m.message for m in client.messages), 10)
    again = await execute(client, Commands.ATTACH, {"runId": run_id})
    assert get(again, "following") is False and get(again, "state") == "succeeded"
    return result


@pytest.fixture(params=CLIENTS)
def capabilities(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_attach_shows_a_run_of_another_machine_from_postgresql(
    capabilities: str, pg_server: Server, pg_database: str, tmp_path: Path
) -> None:
    url = pg_server.url(pg_database, password=PASSWORD)
    env = {**os.environ, "COUNTERPOINT_EVENTS_URL": url}
    here = copy_example(tmp_path / "here" / "course-enrollment").parent
    there_spec = copy_example(tmp_path / "there" / "course-enrollment")
    backend_waits_for_the_first_test_report(there_spec)
    async with server_and_run(capabilities, here, there_spec, env) as (client, proc):

        def find() -> str | None:
            with psycopg.connect(url) as conn:
                try:
                    row = conn.execute(
                        "SELECT run_id FROM counterpoint.events WHERE type = 'run_started'"
                    ).fetchone()
                except psycopg.errors.UndefinedTable:  # no event log made yet
                    return None
            return row[0] if row else None

        run_id = await started_run(find, proc)
        await attach_and_follow(client, run_id, (here / PAGES).resolve(), (here / SPEC_NAME).resolve())
        _out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0, err
        shown = json.dumps(client.counterpoint_events) + " ".join(m.message for m in client.messages)
        shown += " ".join(m.message for m in client.log_messages)
        assert PASSWORD not in shown
        assert str(tmp_path / "here") in json.dumps(events_of(client, run_id, "finding"))  # paths made local


async def test_attach_shows_a_run_of_a_terminal_from_the_workspace_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COUNTERPOINT_EVENTS_URL"}
    spec = copy_example(tmp_path / "course-enrollment")
    backend_waits_for_the_first_test_report(spec)
    workspace = spec.parent
    async with server_and_run("visual_studio_code", workspace, spec, env) as (client, proc):

        def find() -> str | None:
            db = workspace / ".counterpoint" / "events.db"
            if not db.exists():
                return None
            import sqlite3

            conn = sqlite3.connect(db)
            try:
                row = conn.execute("SELECT run_id FROM events WHERE type = 'run_started'").fetchone()
            except sqlite3.Error:
                return None
            finally:
                conn.close()
            return row[0] if row else None

        run_id = await started_run(find, proc)
        # `last`: the workspace's latest run, though no engine of this server has opened the log yet
        last = await execute(client, Commands.ATTACH, {"runId": "last"})
        assert get(last, "runId") == run_id
        await attach_and_follow(client, run_id, (workspace / PAGES).resolve(), spec.resolve())
        assert await asyncio.to_thread(proc.wait, 120) == 0

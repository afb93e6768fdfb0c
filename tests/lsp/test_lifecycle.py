"""Shutdown, a vanishing client and kill -9 leave no agent processes behind; stdout stays clean."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.conftest import server_env
from tests.lsp.conftest import make_client
from tests.lsp.helpers import events_of, execute, get, wait_for
from tests.support.processes import survivors

SPEC = """---
runner: command
---
# Orphans

## spawner
command: ./spawn.sh
"""


async def no_survivors(marker: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while survivors(marker):
        if loop.time() > deadline:
            raise AssertionError(f"orphans left: {[p.cmdline() for p in survivors(marker)]}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("how", ["shutdown", "stdin_closed", "sigkill"])
async def test_no_orphans(tmp_path: Path, how: str) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid() % 1000}"
    (tmp_path / ".git").mkdir()
    # A shell that starts a grandchild (sleep) and keeps printing: both must die with the server.
    (tmp_path / "spawn.sh").write_text(
        f"#!/bin/sh\nsleep {marker} &\nwhile true; do echo alive; sleep 0.2; done\n"
    )
    (tmp_path / "spawn.sh").chmod(0o755)
    spec = tmp_path / "orphans.agents.md"
    spec.write_text(SPEC)
    client = make_client()
    await client.start_io(sys.executable, "-m", "counterpoint", "lsp", env=server_env(COUNTERPOINT_TRUST="1"))
    server = client._server
    assert server is not None
    await client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("neovim"), root_uri=tmp_path.as_uri())
    )
    run_id = get(await execute(client, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: len(events_of(client, run_id, "agent_output")) >= 2, timeout=20)
    assert survivors(marker), "the agent's grandchild should be running"

    if how == "shutdown":
        await client.shutdown_session()
    elif how == "stdin_closed":
        assert server.stdin is not None
        server.stdin.close()
        await asyncio.wait_for(server.wait(), 20)
        await client.stop()
    else:
        server.send_signal(signal.SIGKILL)
        await asyncio.wait_for(server.wait(), 20)
        await client.stop()
    await no_survivors(marker)


async def test_stdout_carries_only_the_protocol(tmp_path: Path) -> None:
    """A child that prints and a spec full of output: the client still parses every message."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "spawn.sh").write_text(
        '#!/bin/sh\nfor i in $(seq 1 50); do echo "line $i"; echo err >&2; done\n'
    )
    (tmp_path / "spawn.sh").chmod(0o755)
    spec = tmp_path / "out.agents.md"
    spec.write_text(SPEC)
    client = make_client()
    await client.start_io(sys.executable, "-m", "counterpoint", "lsp", env=server_env(COUNTERPOINT_TRUST="1"))
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"), root_uri=tmp_path.as_uri()
        )
    )
    run_id = get(await execute(client, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=30)
    assert get(events_of(client, run_id, "run_finished")[0], "action") == "succeeded"
    assert client.error is None
    await client.shutdown_session()

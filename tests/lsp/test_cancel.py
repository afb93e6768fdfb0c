"""Cancelling a run by command and by the client's progress cancel; cancelling one agent."""

from __future__ import annotations

from pathlib import Path

from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.helpers import events_of, execute, get, progress_kinds, wait_for

SPEC = """---
feature: Long work
runner: command
---
# Long work

## slow
command: ./slow.sh

## also_slow
command: ./slow.sh

## after
needs: slow
command: ./slow.sh
"""
SLOW = '#!/bin/sh\nfor i in $(seq 1 600); do echo "step $i"; sleep 0.1; done\n'


def write_spec(workspace: Path) -> Path:
    (workspace / "slow.sh").write_text(SLOW)
    (workspace / "slow.sh").chmod(0o755)
    spec = workspace / "long.agents.md"
    spec.write_text(SPEC)
    return spec


def finished_states(client: LanguageClient, run_id: str) -> dict[str, str]:
    return {get(e, "actor"): get(e, "action") for e in events_of(client, run_id, "agent_finished")}


async def test_cancel_by_command(client: LanguageClient, workspace: Path) -> None:
    spec = write_spec(workspace)
    run_id = get(await execute(client, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: len(events_of(client, run_id, "agent_output")) >= 2)
    cancelled = await execute(client, Commands.CANCEL, {"runId": run_id})
    assert get(cancelled, "cancelled") == [run_id]
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=20)
    assert get(events_of(client, run_id, "run_finished")[0], "action") == "cancelled"
    assert finished_states(client, run_id) == {
        "slow": "cancelled",
        "also_slow": "cancelled",
        "after": "cancelled",
    }


def progress_supported(client: LanguageClient) -> bool:
    caps = client.capabilities
    return bool(caps and caps.window and caps.window.work_done_progress)


async def test_cancel_by_progress(client: LanguageClient, workspace: Path) -> None:
    spec = write_spec(workspace)
    run_id = get(await execute(client, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: len(events_of(client, run_id, "agent_output")) >= 2)
    if not progress_supported(client):
        # Without progress support, cancel goes through the command (covered above): nothing to cancel here.
        assert client.log_messages, "progress falls back to log messages"
        await execute(client, Commands.CANCEL, {})
        await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=20)
        return
    # Cancel one agent's progress: that agent is cancelled, what needs it is blocked, the rest goes on.
    agent_token = f"counterpoint/agent/{run_id}/slow"
    await wait_for(lambda: progress_kinds(client, agent_token)[:1] == ["begin"])
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=agent_token))
    await wait_for(lambda: "slow" in finished_states(client, run_id))
    await wait_for(lambda: "after" in finished_states(client, run_id))
    assert finished_states(client, run_id) == {"slow": "cancelled", "after": "blocked"}
    # Cancel the run's progress: the whole run ends, and every progress ends.
    run_token = f"counterpoint/run/{run_id}"
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=run_token))
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=20)
    assert finished_states(client, run_id)["also_slow"] == "cancelled"
    await wait_for(lambda: progress_kinds(client, run_token)[-1:] == ["end"])
    for agent in ("slow", "also_slow"):
        await wait_for(
            lambda agent=agent: progress_kinds(client, f"counterpoint/agent/{run_id}/{agent}")[-1:] == ["end"]
        )

"""A run started by command: progress for the run and each agent, events, files, the end message."""

from __future__ import annotations

from pathlib import Path

from counterpoint_protocol.methods import Commands
from pytest_lsp import LanguageClient

from tests.conftest import SPEC_NAME
from tests.lsp.helpers import events_of, execute, get, progress_kinds, wait_for

AGENTS = ["backend", "frontend", "quality", "docs", "integrator"]


def supports_progress(client: LanguageClient) -> bool:
    caps = client.capabilities
    return bool(caps and caps.window and caps.window.work_done_progress)


async def test_run_reports_progress_events_and_files(client: LanguageClient, workspace: Path) -> None:
    spec = workspace / SPEC_NAME
    result = await execute(client, Commands.RUN, {"uri": spec.as_uri()})
    run_id = get(result, "runId")
    assert run_id

    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=90)
    (finished,) = events_of(client, run_id, "run_finished")
    assert get(finished, "action") == "succeeded", finished

    # Every event arrived as counterpoint/event, with the keys of `counterpoint events --json`.
    types_seen = {get(e, "type") for e in events_of(client, run_id)}
    assert {
        "run_started",
        "agent_started",
        "signal",
        "agent_finished",
        "run_finished",
    } <= types_seen
    assert set(finished.keys()) == {
        "id",
        "run_id",
        "type",
        "actor",
        "action",
        "metadata",
        "timestamp",
    }
    started = [get(e, "actor") for e in events_of(client, run_id, "agent_started")]
    assert sorted(started) == sorted(AGENTS)

    # Signals released agents: frontend started after schema_ready fired.
    ids = {
        (get(e, "type"), get(e, "actor") or get(e, "action")): get(e, "id") for e in events_of(client, run_id)
    }
    assert ids[("signal", "schema_ready")] < ids[("agent_started", "frontend")]

    # The agents' work is on disk.
    app = workspace / "app"
    assert (app / "enrollment" / "mutations.py").is_file()
    assert "mutations.enroll(store" in (app / "web" / "pages.py").read_text()

    # Progress: begin and end for the run and for every agent (report for the run at least).
    if supports_progress(client):
        await wait_for(lambda: progress_kinds(client, f"counterpoint/run/{run_id}")[-1:] == ["end"])
        kinds = progress_kinds(client, f"counterpoint/run/{run_id}")
        assert kinds[0] == "begin" and "report" in kinds, kinds
        for agent in AGENTS:
            token = f"counterpoint/agent/{run_id}/{agent}"
            await wait_for(lambda token=token: progress_kinds(client, token)[-1:] == ["end"])
            assert progress_kinds(client, token)[0] == "begin"
    else:
        await wait_for(lambda: any("agent backend" in m.message for m in client.log_messages))

    # The end of the run pops up a message; the status command knows the run.
    await wait_for(lambda: any(run_id in m.message and "succeeded" in m.message for m in client.messages))
    status = await execute(client, Commands.STATUS, {})
    (run,) = [r for r in get(status, "runs") if get(r, "runId") == run_id]
    assert {get(a, "name"): get(a, "state") for a in get(run, "agents")} == dict.fromkeys(AGENTS, "succeeded")

    # The events command gives the same events, filtered by type.
    signals = await execute(client, Commands.EVENTS, {"runId": run_id, "type": "signal"})
    assert {get(e, "action") for e in signals} >= {"schema_ready", "mutations_ready", "tests_ready"}
    report = await execute(client, Commands.REPORT, {"runId": run_id})
    assert Path(get(get(report, "files"), "html")).is_file()


async def test_run_one_agent_runs_what_it_needs(client: LanguageClient, workspace: Path) -> None:
    spec = workspace / SPEC_NAME
    result = await execute(client, Commands.RUN, {"uri": spec.as_uri(), "agents": ["docs"]})
    run_id = get(result, "runId")
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=60)
    started = {get(e, "actor") for e in events_of(client, run_id, "agent_started")}
    assert started == {"backend", "docs"}

"""What needs a person goes through the editor: gates, consent to run commands, bad settings."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import server_env
from tests.lsp.conftest import make_client
from tests.lsp.helpers import events_of, execute, get, wait_for

GATED = """---
runner: replay
---
# Gated

## build
transcript: quick.jsonl

## deploy
needs: build
gate: approve
transcript: quick.jsonl
"""


def write_gated(workspace: Path) -> Path:
    (workspace / "quick.jsonl").write_text('{"action": "think", "seconds": 0.05}\n')
    spec = workspace / "gated.agents.md"
    spec.write_text(GATED)
    return spec


@pytest.mark.parametrize("answer", ["Start", "Skip"])
async def test_gate_asks_the_person(client: LanguageClient, workspace: Path, answer: str) -> None:
    client.gate_answer = answer  # type: ignore[attr-defined]
    spec = write_gated(workspace)
    run_id = get(await execute(client, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=30)
    questions = [r.message for r in client.message_requests]  # type: ignore[attr-defined]
    assert any(q.startswith("Start deploy?") and "build" in q for q in questions), questions
    finished = {get(e, "actor"): get(e, "action") for e in events_of(client, run_id, "agent_finished")}
    assert finished == {"build": "succeeded", "deploy": "succeeded" if answer == "Start" else "skipped"}
    (gate,) = events_of(client, run_id, "gate_answered")
    assert get(gate, "action") == answer.lower()


@pytest_lsp.fixture(
    params=["visual_studio_code"],
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "counterpoint", "lsp"],
        client_factory=make_client,
        # Its own user config: what the person allows is remembered there, not in $HOME.
        server_env=server_env(COUNTERPOINT_TRUST="0", XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="cp-user-")),
    ),
)
async def untrusted(
    request: pytest.FixtureRequest, lsp_client: LanguageClient, workspace: Path
) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=workspace.as_uri(),
            initialization_options={"maxParallel": "lots", "logLevel": "chatty"},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_bad_settings_are_reported_and_defaults_used(
    untrusted: LanguageClient, workspace: Path
) -> None:
    await wait_for(lambda: len(untrusted.messages) >= 2, timeout=10)
    text = " | ".join(m.message for m in untrusted.messages)
    assert "counterpoint.maxParallel" in text and "counterpoint.logLevel" in text and "default" in text
    assert get(await execute(untrusted, Commands.STATUS, {}), "runs") == []


async def test_consent_is_asked_once_and_remembered(
    untrusted: LanguageClient, workspace: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    (workspace / "tool.sh").write_text(f"#!/bin/sh\necho ran > {marker}\n")
    (workspace / "tool.sh").chmod(0o755)
    spec = workspace / "cmd.agents.md"
    spec.write_text(
        "---\nrunner: command\n---\n# Cmd\n\n## one\ncommand: ./tool.sh\n\n## two\ncommand: ./tool.sh\n"
    )
    run_id = get(await execute(untrusted, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: events_of(untrusted, run_id, "run_finished"), timeout=30)
    asks = [r for r in untrusted.message_requests if "Allow" in [a.title for a in r.actions or []]]  # type: ignore[attr-defined]
    assert len(asks) == 1, [r.message for r in asks]
    assert "./tool.sh" in asks[0].message
    assert get(events_of(untrusted, run_id, "run_finished")[0], "action") == "succeeded"
    assert marker.read_text() == "ran\n"

"""The editor's run command refuses a spec whose names or paths would leave the workspace.

The language server is a real subprocess; the refusal is a JSON-RPC error naming the line,
the diagnostics show the same problem at its range, and nothing ran.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp.helpers import execute, get, open_doc


@pytest.mark.parametrize(
    ("setting", "line", "code"),
    [
        ("cwd: ../../..", 3, "path-outside-workspace"),
        ("transcript: /etc/passwd\nrunner: replay", 3, "path-outside-workspace"),
    ],
)
async def test_run_refuses_a_path_outside_the_workspace(
    client: LanguageClient, workspace: Path, setting: str, line: int, code: str
) -> None:
    text = f"## builder\nrunner: command\ncommand: {sys.executable} -c \"open('escaped', 'w')\"\n{setting}\n"
    spec = workspace / "outside.agents.md"
    spec.write_text(text)
    uri = spec.as_uri()
    open_doc(client, uri, text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    found = [d for d in client.diagnostics[uri] if d.code == code]
    assert [d.range.start.line for d in found] == [line], client.diagnostics[uri]
    with pytest.raises(JsonRpcException, match=f"line {line + 1}: .*outside the workspace") as info:
        await execute(client, Commands.RUN, {"uri": uri})
    assert info.value.code == -32600
    assert get(await execute(client, Commands.STATUS, {}), "runs") == []
    assert not list(workspace.parent.parent.rglob("escaped"))


async def test_run_refuses_a_hostile_agent_name(client: LanguageClient, workspace: Path) -> None:
    text = "## ../../../../x\nrunner: command\ncommand: 'true'\n"
    spec = workspace / "named.agents.md"
    spec.write_text(text)
    uri = spec.as_uri()
    open_doc(client, uri, text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    (diag,) = [d for d in client.diagnostics[uri] if d.code == "invalid-agent-name"]
    assert (diag.range.start.line, diag.range.start.character, diag.range.end.character) == (0, 3, 16)
    with pytest.raises(JsonRpcException, match="line 1: agent name"):
        await execute(client, Commands.RUN, {"uri": uri})

"""Bad requests get JSON-RPC errors with clear messages, and the server stays up."""

from __future__ import annotations

from pathlib import Path

import pytest
from counterpoint_protocol.methods import Commands
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.conftest import SPEC_NAME
from tests.lsp.helpers import execute, get


@pytest.mark.parametrize(
    ("command", "argument", "expected"),
    [
        (Commands.RUN, {"uri": 42}, "uri"),
        (Commands.RUN, {"uri": "file:///nope/x.agents.md"}, "no such file"),
        (Commands.RUN, {"uri": "file:///etc/passwd"}, "not a *.agents.md spec"),
        (Commands.RUN, {"uri": "SPEC", "agents": ["ghost"]}, "no such agent: ghost"),
        (Commands.RUN, {"uri": "SPEC", "bogus": 1}, "bogus"),
        (Commands.CANCEL, {"runId": "no-such-run"}, "no such run"),
        (Commands.RERUN, {"runId": "x"}, "agent"),
        (Commands.EVENTS, {"runId": "no-such-run"}, "no such run"),
        ("counterpoint.nonsense", {}, "nonsense"),
    ],
)
async def test_bad_commands_get_errors(
    client: LanguageClient,
    workspace: Path,
    command: str,
    argument: dict[str, object],
    expected: str,
) -> None:
    if argument.get("uri") == "SPEC":
        argument = {**argument, "uri": (workspace / SPEC_NAME).as_uri()}
    with pytest.raises(JsonRpcException) as info:
        await execute(client, command, argument)
    assert expected in str(info.value)
    # Still alive and answering.
    status = await execute(client, Commands.STATUS, {})
    assert get(status, "runs") == []


async def test_wrong_argument_shapes(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException, match="one object argument"):
        await execute(client, Commands.RUN, ["a", "list"])  # type: ignore[arg-type]
    assert get(await execute(client, Commands.STATUS), "runs") == []

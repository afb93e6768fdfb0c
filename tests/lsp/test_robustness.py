"""Bad requests get JSON-RPC errors with clear messages, and the server stays up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.conftest import SPEC_NAME
from tests.lsp.helpers import execute, get
from tests.support.raw_lsp import RawServer, frame, request


@pytest.mark.parametrize(
    ("command", "argument", "expected"),
    [
        (Commands.RUN, {"uri": 42}, "uri"),
        (Commands.RUN, {"uri": "file:///nope/x.agents.md"}, "no such file"),
        (Commands.RUN, {"uri": "file:///etc/passwd"}, "not a *.agents.md spec"),
        (Commands.RUN, {"uri": "http://example.com/x.agents.md"}, "not a file: URI"),
        (Commands.RUN, {"uri": "untitled:Untitled-1.agents.md"}, "not a file: URI"),
        (Commands.RUN, {"uri": "vscode-remote://ssh-remote+h/x.agents.md"}, "not a file: URI"),
        (Commands.TRUST, {"uri": "http://example.com/x.agents.md"}, "not a file: URI"),
        (Commands.TRUST, {"uri": "https://example.com/folder"}, "not a file: URI"),
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
    assert info.value.code in (-32602, -32600), info.value  # InvalidParams/Request, not InternalError
    # Still alive and answering.
    status = await execute(client, Commands.STATUS, {})
    assert get(status, "runs") == []


async def test_wrong_argument_shapes(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException, match="one object argument"):
        await execute(client, Commands.RUN, ["a", "list"])  # type: ignore[arg-type]
    assert get(await execute(client, Commands.STATUS), "runs") == []


REFUSED_SPECS = {
    "errors.agents.md": "---\nrunner: bogus\n---\n# Errors\n\n## a\n- do it\n",
    "live.agents.md": "---\nrunner: replay\n---\n# Live\n\n## slow\ntranscript: slow.jsonl\n- wait\n",
}


def test_refused_runs_log_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A refused run is the client's business: one clear log line each, no traceback."""
    (tmp_path / ".git").mkdir()
    for name, text in REFUSED_SPECS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "slow.jsonl").write_text(json.dumps({"action": "think", "seconds": 120}) + "\n")
    server = RawServer(tmp_path)
    try:
        server.initialize()

        def run(request_id: int, name: str) -> dict[str, Any]:
            arguments = [{"uri": (tmp_path / name).as_uri()}]
            server.send(
                frame(
                    request(
                        request_id,
                        "workspace/executeCommand",
                        {"command": Commands.RUN, "arguments": arguments},
                    )
                )
            )
            [reply] = server.replies(1)
            assert reply["id"] == request_id, reply
            return reply

        assert run(2, "errors.agents.md")["error"]["code"] == -32600
        assert "result" in run(3, "live.agents.md")
        refused = run(4, "live.agents.md")
        assert refused["error"]["code"] == -32600, refused
        server.wait_for_log(f"{Commands.RUN} refused: the spec has errors")
        server.wait_for_log(f"{Commands.RUN} refused: .*live")
        log = server.stderr()
        assert "Traceback" not in log, log
        assert len([line for line in log.splitlines() if "refused" in line]) == 2, log
    finally:
        server.close()


@pytest.mark.parametrize("uri", ["untitled:Untitled-1.agents.md", "vscode-remote://ssh-remote+h/x.agents.md"])
async def test_a_spec_that_is_not_a_local_file_is_left_alone(
    client: LanguageClient, workspace: Path, uri: str
) -> None:
    """An untitled or remote spec document: no error shown, features answer empty, the server goes on."""
    text = (workspace / SPEC_NAME).read_text()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=text)
        )
    )
    doc = types.TextDocumentIdentifier(uri=uri)
    at = types.Position(line=text.splitlines().index("## backend"), character=4)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=doc, position=at))
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc))
    assert hover is None and not lenses and not symbols
    # The real spec still works after it, and nothing was shown as a server error.
    real = (workspace / SPEC_NAME).as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=real, language_id="markdown", version=1, text=text)
        )
    )
    real_symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=real))
    )
    assert [s.name for s in real_symbols or []][:1] == ["backend"]
    assert not [m for m in client.messages if m.type == types.MessageType.Error], client.messages

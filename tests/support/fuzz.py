"""JSON-RPC fuzz batches against a raw ``counterpoint lsp`` (shared by the tests and the benchmark).

Each batch sends hostile messages, checks what came back, and ends by asking for
``counterpoint.status``: the server must still answer it. Each returns the cases it tried.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.harness import Framed, frame

METHOD_NOT_FOUND = -32601
INVALID_REQUEST = -32600

COMMANDS = [
    "counterpoint.run",
    "counterpoint.cancel",
    "counterpoint.status",
    "counterpoint.rerun",
    "counterpoint.events",
    "counterpoint.resume",
    "counterpoint.report",
    "counterpoint.nonsense",
]

BAD_BODIES = [
    b"{",
    b"not json at all",
    b"[1, 2",
    b"null",
    b"[]",
    b"42",
    b'"a string"',
    b"\xff\xfe\x00\x01",
    b'{"jsonrpc": "2.0", "id": 1, "method": 5}',
    b'{"jsonrpc": "2.0", "id": [1], "method": "initialize"}',
    b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": []}',
    b'{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": 3}}',
    b'{"jsonrpc": "2.0", "result": 1, "id": 123456}',
    b'{"jsonrpc": "2.0", "error": {"code": "x"}, "id": 99}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "$/cancelRequest", "params": "x"}',
    b"{" + b'"a":' * 2000 + b"1" + b"}" * 2000,  # deep nesting
]

# (method, params): wrong types for methods the server knows.
WRONG_PARAMS: list[tuple[str, Any]] = [
    ("textDocument/hover", "x"),
    ("textDocument/hover", {}),
    ("textDocument/hover", {"textDocument": {"uri": 5}, "position": {"line": -1, "character": "a"}}),
    ("textDocument/completion", {"textDocument": 5}),
    ("textDocument/definition", [1, 2, 3]),
    ("textDocument/documentSymbol", None),
    ("textDocument/codeLens", {"textDocument": {"uri": "file:///nowhere/x.agents.md"}}),
    ("textDocument/inlayHint", {"textDocument": {"uri": "file:///x.agents.md"}, "range": 7}),
    ("workspace/executeCommand", 5),
    ("workspace/executeCommand", {"command": 5}),
    ("workspace/executeCommand", {"command": "counterpoint.run", "arguments": {"uri": 1}}),
    ("workspace/executeCommand", {"command": "counterpoint.run", "arguments": [1, 2, 3]}),
    ("initialize", {"capabilities": "none"}),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
command_arguments = st.one_of(
    st.lists(json_values, max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "uri": st.one_of(st.text(max_size=30), st.integers(), st.just("file:///tmp/ghost.agents.md")),
                "runId": json_values,
                "agent": json_values,
                "agents": json_values,
                "type": json_values,
                "limit": json_values,
            },
        ),
        min_size=1,
        max_size=1,
    ),
    json_values,
)


def assert_alive(server: Framed) -> None:
    assert server.status_ok(), "the server stopped answering counterpoint.status"


def bad_json(server: Framed) -> int:
    for body in BAD_BODIES:
        server.send_raw(frame(body))
    assert_alive(server)
    return len(BAD_BODIES)


def wrong_params(server: Framed) -> int:
    for method, params in WRONG_PARAMS:
        reply = server.request(method, params)
        assert "error" in reply or "result" in reply, reply
    assert_alive(server)
    return len(WRONG_PARAMS)


def unknown_methods(server: Framed) -> int:
    methods = ["foo/bar", "counterpoint/nope", "$/unknownRequest", "textDocument/nonsense", ""]
    for method in methods:
        reply = server.request(method, {"x": 1})
        assert reply.get("error", {}).get("code") == METHOD_NOT_FOUND, (method, reply)
        server.notify(method, {"x": 1})  # unknown notifications: ignored, no reply
    assert_alive(server)
    return 2 * len(methods)


def huge_message(server: Framed, folder: Path, megabytes: int = 20) -> int:
    """A didOpen of a ``megabytes`` MB spec, then a hover on it: answered, and the server is fine."""
    line = "- " + "x" * 97 + "\n"
    text = "---\nrunner: replay\n---\n# Huge\n\n## agent\n" + line * (megabytes * 1_000_000 // len(line))
    uri = (folder / "huge.agents.md").as_uri()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": text}},
    )
    reply = server.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 5, "character": 3}}
    )
    assert "result" in reply or "error" in reply
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert_alive(server)
    return 2


def random_command_params(server: Framed, examples: int = 150) -> int:
    tried = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(command=st.sampled_from(COMMANDS), arguments=command_arguments)
    def one(command: str, arguments: Any) -> None:
        nonlocal tried
        tried += 1
        reply = server.request("workspace/executeCommand", {"command": command, "arguments": arguments})
        assert "error" in reply or "result" in reply, reply
        json.dumps(reply)

    one()
    assert_alive(server)
    return tried


def after_shutdown(server: Framed) -> int:
    """After ``shutdown`` every request gets InvalidRequest; ``exit`` ends the server with 0."""
    assert server.request("shutdown").get("result", "missing") is None
    cases = 0
    for method, params in [
        ("workspace/executeCommand", {"command": "counterpoint.status", "arguments": []}),
        ("textDocument/documentSymbol", {"textDocument": {"uri": "file:///x.agents.md"}}),
        ("shutdown", None),
    ]:
        reply = server.request(method, params)
        assert reply.get("error", {}).get("code") == INVALID_REQUEST, (method, reply)
        cases += 1
    server.notify("exit")
    assert server.proc.wait(timeout=20) == 0
    return cases

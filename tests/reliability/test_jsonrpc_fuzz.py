"""Malformed JSON-RPC against the real server over raw pipes: errors come back, it stays up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import fuzz
from tests.support.harness import Framed
from tests.support.raw_lsp import RawServer, frame, request, status


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Framed]:
    (tmp_path / ".git").mkdir()
    framed = Framed(tmp_path)
    framed.initialize()
    try:
        yield framed
    finally:
        framed.close()


def test_bad_json_is_survived(server: Framed) -> None:
    assert fuzz.bad_json(server) >= 10


def test_wrong_params_get_errors(server: Framed) -> None:
    reply = server.request("textDocument/hover", "x")
    assert reply["error"]["code"] == -32602  # InvalidParams, not silence
    assert fuzz.wrong_params(server) >= 10


def test_unknown_methods_get_method_not_found(server: Framed) -> None:
    assert fuzz.unknown_methods(server) >= 5


def test_a_20_mb_message(server: Framed, tmp_path: Path) -> None:
    assert fuzz.huge_message(server, tmp_path, megabytes=20) == 2


def test_random_json_as_command_params(server: Framed) -> None:
    assert fuzz.random_command_params(server, examples=150) == 150


def test_requests_after_shutdown_get_invalid_request(server: Framed) -> None:
    assert fuzz.after_shutdown(server) == 3


# -- malformed frames: raw bytes, exact replies, then a valid request is answered -----------------

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
ASK = request(7, "workspace/executeCommand", {"command": "counterpoint.status", "arguments": []})
"""A request the client waits on, sent inside a broken frame: its id must come back."""


@pytest.fixture(params=["stdio", "tcp"])
def raw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RawServer]:
    (tmp_path / ".git").mkdir()
    server = RawServer(tmp_path, tcp=request.param == "tcp")
    try:
        server.initialize()
        yield server
    finally:
        server.close()


def assert_error(reply: dict[str, object], code: int, request_id: int | None, words: str) -> None:
    assert set(reply) == {"jsonrpc", "id", "error"}, reply
    assert reply["jsonrpc"] == "2.0" and reply["id"] == request_id, reply
    error = reply["error"]
    assert isinstance(error, dict) and error["code"] == code, reply
    assert words in error["message"], reply


def assert_answered(server: RawServer, *replies: dict[str, object]) -> None:
    """The reply after the errors is the valid request's: the server read on from the right byte."""
    last = replies[-1]
    assert last["id"] == 99 and isinstance(last.get("result"), dict), replies


@pytest.mark.parametrize(
    ("data", "code", "request_id", "words"),
    [
        (frame(b'{"jsonrpc": "2.0", "id": 5, "method": '), PARSE_ERROR, None, "not JSON"),
        (frame(b"\xff\xfe{}"), PARSE_ERROR, None, "not JSON"),
        (frame(b""), PARSE_ERROR, None, "not JSON"),
        (frame(b"42"), INVALID_REQUEST, None, "not a JSON object"),
        (frame(b"[]"), INVALID_REQUEST, None, "not a JSON object"),
        (frame(b"[" + ASK + b"]"), INVALID_REQUEST, None, "batch"),
        (frame(b'{"foo": 1}'), INVALID_REQUEST, None, "jsonrpc"),
        (frame(b'{"jsonrpc": "2.0", "id": 5}'), INVALID_REQUEST, 5, "neither"),
        (frame(b'{"jsonrpc": "2.0", "id": [1], "method": "shutdown"}'), INVALID_REQUEST, None, "id"),
        (frame(b'{"jsonrpc": "2.0", "id": true, "method": "shutdown"}'), INVALID_REQUEST, None, "id"),
        (frame(b'{"jsonrpc": "2.0", "id": 5, "method": 3}'), INVALID_REQUEST, 5, "method"),
        (frame(b'{"jsonrpc": "2.0", "method": 3}'), INVALID_REQUEST, None, "method"),
        (frame(b'{"jsonrpc": "1.0", "id": 5, "method": "shutdown"}'), INVALID_REQUEST, 5, "jsonrpc"),
    ],
    ids=lambda v: v.decode("latin-1")[:40] if isinstance(v, bytes) else str(v),
)
def test_bad_bodies_get_the_exact_error(
    raw: RawServer, data: bytes, code: int, request_id: int | None, words: str
) -> None:
    raw.send(data + frame(status(99)))
    first, second = raw.replies(2)
    assert_error(first, code, request_id, words)
    assert_answered(raw, first, second)


@pytest.mark.parametrize(
    ("data", "request_id", "words"),
    [
        # Too short: the body is cut; the rest up to the next header is skipped with it.
        (frame(ASK, length=20), 7, "Content-Length 20"),
        # Too long: the next frame's header turns up inside the body.
        (frame(ASK, length=len(ASK) + 500), 7, f"Content-Length {len(ASK) + 500}"),
        (b"Content-Length: abc\r\n\r\n" + ASK, 7, "not a number"),
        (b"Content-Length: -5\r\n\r\n" + ASK, 7, "not a number"),
        (b"Content-Length: 1e3\r\n\r\n" + ASK, 7, "not a number"),
        (b"Content-Length 41\r\n\r\n" + ASK, 7, "without a colon"),
        (b"Content-Type: application/json\r\n\r\n" + ASK, 7, "without a Content-Length"),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n" + ASK, 7, "two Content-Length"),
        (b"Content-Length: 99999999999\r\n\r\n" + ASK, 7, "64 MiB"),
        (b"garbage without any header\r\n\r\n" + ASK, 7, "without a colon"),
        (frame(b'{"no": "id in here"}', length=5), None, "Content-Length 5"),
    ],
    ids=lambda v: v.decode("latin-1")[:40] if isinstance(v, bytes) else str(v),
)
def test_broken_frames_get_one_error_then_the_server_reads_on(
    raw: RawServer, data: bytes, request_id: int | None, words: str
) -> None:
    raw.send(data + frame(status(99)))
    first, second = raw.replies(2)
    assert_error(first, PARSE_ERROR, request_id, words)
    assert_answered(raw, first, second)


def test_garbage_before_a_frame_is_skipped_up_to_its_header(raw: RawServer) -> None:
    raw.send(b"\x00\x01\x02 {}}}" + frame(ASK) + frame(status(99)))
    garbage, asked, last = raw.replies(3)
    assert_error(garbage, PARSE_ERROR, None, "not a header")
    assert asked["id"] == 7 and "result" in asked, asked
    assert_answered(raw, garbage, asked, last)


def test_a_too_long_frame_with_nothing_after_it_is_answered(raw: RawServer) -> None:
    """The client waits for the reply while the server would wait for 500 more bytes: the server
    notices the silence after a complete JSON body and answers instead of waiting forever."""
    raw.send(frame(ASK, length=len(ASK) + 500))
    [reply] = raw.replies(1)
    assert_error(reply, PARSE_ERROR, 7, f"Content-Length {len(ASK) + 500}")
    raw.send(frame(status(99)))
    assert_answered(raw, *raw.replies(1))


def test_input_ending_inside_a_message_exits_with_a_clear_line(raw: RawServer) -> None:
    raw.send(b'Content-Length: 500\r\n\r\n{"jsonrpc": "2.0", "id": 3, "method": "shu')
    raw.close_input()
    assert raw.wait_exit() == 1
    line = raw.wait_for_log("the input ended inside a message")
    assert "Content-Length 500" in line and "exiting" in line
    assert "Traceback" not in raw.stderr()


def test_input_ending_inside_a_header_exits_with_a_clear_line(raw: RawServer) -> None:
    raw.send(b"Content-Len")
    raw.close_input()
    assert raw.wait_exit() == 1
    assert "exiting" in raw.wait_for_log("the input ended inside a header")
    assert "Traceback" not in raw.stderr()


def test_input_closed_between_messages_exits_cleanly(raw: RawServer) -> None:
    raw.close_input()
    assert raw.wait_exit() == 0
    assert "exiting" in raw.wait_for_log("the client closed the connection")

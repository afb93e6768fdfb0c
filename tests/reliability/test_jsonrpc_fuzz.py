"""Malformed JSON-RPC against the real server over raw pipes: errors come back, it stays up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability import fuzz
from tests.reliability.harness import Framed


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

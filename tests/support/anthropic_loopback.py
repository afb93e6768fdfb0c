"""A scripted Anthropic Messages server on 127.0.0.1 for real agents (Claude Code and its ACP
adapter): the wire format of `tests.llm.fake_llm_server` (SSE ``message_start`` ..
``message_stop``, ``input_json_delta`` for tool input), plus what Claude Code asks beyond
``POST /v1/messages``: ``POST /v1/messages/count_tokens`` (a JSON count), non-streaming
messages (one JSON message) and anything else answered ``404`` (recorded, never fatal).

`WriteOnceScript` is the script: the agent's loop (the requests offering its own write tool)
gets one call of that tool, with the argument names the tool declares, writing one file in the
working directory the request's system prompt names; after the tool result, a short final text.
Every other request (titles, topic checks, quota probes) gets a short text. Every request is
recorded with its headers and parsed body (`AnthropicLoopback.requests`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import PurePosixPath
from typing import Any

from tests.llm.fake_llm_server import (
    LoopbackServer,
    QuietHandler,
    Recorded,
    Reply,
    anthropic_events,
    write_chunked,
)

Responder = Callable[[dict[str, Any]], Reply]

WORKING_DIRECTORY = re.compile(r"(?:Primary working directory|Working directory|cwd):\s*(/\S+)")


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system", "")
    if isinstance(system, list):
        return "\n".join(block.get("text", "") for block in system if isinstance(block, dict))
    return str(system)


def working_directory(body: dict[str, Any]) -> str | None:
    """The working directory Claude Code tells its model about (in the system prompt's environment)."""
    found = WORKING_DIRECTORY.search(system_text(body))
    return found.group(1) if found else None


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tool_result`` blocks of the request's user messages."""
    found = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def write_arguments(tool: dict[str, Any], path: str, content: str) -> dict[str, Any]:
    """Arguments for a write tool from its declared schema: a path-like and a content-like property."""
    properties = dict(tool.get("input_schema", {}).get("properties", {}))
    path_key = next((k for k in ("file_path", "path", "filePath", "filename") if k in properties), None)
    content_key = next((k for k in ("content", "contents", "text", "new_content") if k in properties), None)
    if path_key is None or content_key is None:
        raise AssertionError(f"the write tool {tool.get('name')!r} declares no path/content: {properties}")
    return {path_key: path, content_key: content}


@dataclass
class WriteOnceScript:
    """The agent writes ``relative`` (under the working directory its system prompt names) with
    ``content`` through its own write tool (the first tool offered named in ``tool_names``), then
    ends its turn with ``final``."""

    relative: str
    content: str
    final: str = "Done: the file is written."
    tool_names: tuple[str, ...] = ("Write", "write", "write_file")
    """Write tools by name; an MCP tool ``mcp__<server>__<name>`` counts too (Claude Code's ACP
    adapter offers ``mcp__acp__Write``, which writes through ACP ``fs/write_text_file``)."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """The tool calls answered (name and arguments), in order."""

    def write_tool(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The first offered tool that is a write tool by name (a shell tool is never taken)."""
        for tool in body.get("tools", []):
            name = str(tool.get("name", "")) if isinstance(tool, dict) else ""
            if name.rsplit("__", 1)[-1] in self.tool_names:
                return dict(tool)
        return None

    def __call__(self, body: dict[str, Any]) -> Reply:
        tool = self.write_tool(body)
        if tool is None:  # a side request: a title, a topic check, a quota probe
            return Reply(text="Write a file")
        if tool_results(body):
            return Reply(text=self.final)
        folder = working_directory(body)
        if folder is None:
            return Reply(text="no working directory in the system prompt")
        path = str(PurePosixPath(folder) / self.relative)
        arguments = write_arguments(tool, path, self.content)
        self.calls.append({"name": tool["name"], "input": arguments})
        return Reply(text="Writing the file.", tool_calls=[(tool["name"], arguments)])


class AnthropicLoopback(LoopbackServer):
    """A threaded HTTP server; ``base_url`` is what ``ANTHROPIC_BASE_URL`` takes (no ``/v1``)."""

    def __init__(self, responder: Responder) -> None:
        super().__init__(self._handler(), "anthropic-loopback")
        self.responder = responder
        self.unknown: list[str] = []
        """Requests answered 404: method and path."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def messages(self) -> list[Recorded]:
        """The recorded ``/v1/messages`` requests (not ``count_tokens``), in order."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == "/v1/messages"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(raw or b"{}")
                except ValueError:
                    parsed = {"_raw": raw.decode(errors="replace")}
                return parsed if isinstance(parsed, dict) else {"_raw": parsed}

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                server.record(self.path, self.headers, {})
                with server._lock:
                    server.unknown.append(f"GET {self.path}")
                self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "none"}})

            do_HEAD = do_GET

            def do_POST(self) -> None:
                body = self._body()
                path = self.path.split("?")[0]
                server.record(self.path, self.headers, body)
                if path == "/v1/messages/count_tokens":
                    tokens = max(1, len(json.dumps(body)) // 4)
                    self._json(200, {"input_tokens": tokens})
                    return
                if path != "/v1/messages":
                    with server._lock:
                        server.unknown.append(f"POST {self.path}")
                    self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
                    return
                reply = server.responder(body)
                model = str(body.get("model", "claude-loopback"))
                tokens = max(1, len(json.dumps(body)) // 4)
                if not body.get("stream"):
                    self._json(200, message_json(reply, tokens, model))
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                write_chunked(self.wfile, anthropic_events(reply, tokens, 0, 0, model))

        return Handler


def message_json(reply: Reply, input_tokens: int, model: str) -> dict[str, Any]:
    """A whole (non-streamed) Messages API response of ``reply``."""
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for index, (name, arguments) in enumerate(reply.tool_calls):
        content.append({"type": "tool_use", "id": f"toolu_{index}", "name": name, "input": arguments})
    return {
        "id": "msg_loopback",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 10},
    }

"""Fake OpenAI-compatible and Anthropic servers on 127.0.0.1, speaking the real wire formats.

`FakeLLMServer(flavor)` serves ``POST /v1/chat/completions`` (OpenAI: streaming SSE of
``chat.completion.chunk`` with ``tool_calls`` deltas and a final usage chunk with
``prompt_tokens_details.cached_tokens``) or ``POST /v1/messages`` (Anthropic: SSE events
``message_start`` .. ``message_stop`` with ``input_json_delta`` and cache usage). Replies are
scripted per agent (`Script`), every request is recorded (headers and parsed body), and a
prompt cache is emulated so that cached-token figures are meaningful: OpenAI-style, the longest
prefix seen before is cached; Anthropic-style, only prefixes ending at a ``cache_control``
breakpoint are.

For the benchmark, run ``python tests/llm/fake_llm_server.py --flavor openai --latency 0.2
--tokens 40 --token-rate 100``: it prints its URL and answers every agent with "write a
file, emit a signal, finish" (see `bench_script`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, Literal, Self

Flavor = Literal["openai", "anthropic"]
AGENT_MARK = re.compile(r"You are the agent `([^`]+)`")


@dataclass
class Reply:
    """One model response: text, then tool calls (name, arguments)."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    chunk_chars: int = 6
    """Characters of text per streamed delta (one delta is one "token" for the figures)."""


@dataclass
class Failure:
    status: int
    message: str = "error"
    headers: dict[str, str] = field(default_factory=dict)


Item = Reply | Failure


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    agent: str | None
    at: float


def call(tool: str, /, **args: Any) -> tuple[str, dict[str, Any]]:
    return (tool, args)


def agent_of(body: dict[str, Any]) -> str | None:
    """The agent named in the first user message (the runner writes "You are the agent `x`")."""
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        found = AGENT_MARK.search(text)
        if found:
            return found.group(1)
    return None


class Script:
    """Replies per agent, in order; ``"*"`` is the fallback queue for any agent."""

    def __init__(self, per_agent: Mapping[str, Sequence[Item]] | None = None) -> None:
        self.queues: dict[str, deque[Item]] = {k: deque(v) for k, v in (per_agent or {}).items()}
        self.lock = threading.Lock()

    def __call__(self, agent: str | None, body: dict[str, Any]) -> Item:
        with self.lock:
            for key in (agent, "*"):
                if key is not None and self.queues.get(key):
                    return self.queues[key].popleft()
        return Reply(text="(the script has no more replies)")


def bench_script(agent: str | None, body: dict[str, Any], tokens: int = 200) -> Item:
    """Every agent: write ``out/<agent>.txt``, emit ``<agent>-done``, then a final text."""
    turn = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
    name = agent or "anon"
    words = " ".join(f"w{i}" for i in range(tokens))
    if turn == 0:
        return Reply(
            text=words,
            tool_calls=[call("write_file", path=f"out/{name}.txt", content=words)],
            chunk_chars=3,
        )
    if turn == 1:
        return Reply(
            text=words,
            tool_calls=[call("emit_signal", name=f"{name}-done", metadata={})],
            chunk_chars=3,
        )
    return Reply(text=words, chunk_chars=3)


Responder = Callable[[str | None, dict[str, Any]], Item]


class PromptCache:
    """Emulated provider prompt cache over message-level prefixes."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def account(self, segments: list[tuple[str, bool]]) -> tuple[int, int, int]:
        """(total, cache read, cache write) tokens; segments are (json, is_breakpoint)."""
        digest = hashlib.sha256()
        total = cached = written = 0
        points: list[tuple[str, int]] = []
        for text, breakpoint in segments:
            digest.update(text.encode())
            total += max(1, len(text) // 4)
            if breakpoint:
                points.append((digest.hexdigest(), total))
        with self.lock:
            for key, upto in points:
                if key in self.seen:
                    cached = upto
                else:
                    written = max(written, upto - cached)
                    self.seen.add(key)
        return total, cached, written


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) drops SYNs when ten agents connect at once
    daemon_threads = True


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive, as the SDKs expect), and no log line per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return


class LoopbackServer:
    """A threaded HTTP server on a free port of 127.0.0.1, serving once started until stopped (or
    for the ``with`` block); subclasses give the request handler, which records each request."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, path: str, headers: Message, body: dict[str, Any]) -> Recorded:
        """Keep a request in `requests` (its headers' names in lower case)."""
        recorded = Recorded(
            path, {k.lower(): v for k, v in headers.items()}, body, agent_of(body), time.monotonic()
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded


def write_chunked(wfile: BufferedIOBase, events: Iterable[str], gap: float = 0.0) -> None:
    """Each event as one chunk of a chunked response (``gap`` seconds before each), then its end."""
    for event in events:
        if gap:
            time.sleep(gap)
        data = event.encode()
        wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        wfile.flush()
    wfile.write(b"0\r\n\r\n")
    wfile.flush()


class FakeLLMServer(LoopbackServer):
    """A threaded HTTP server; ``url`` is the base URL to give the SDK (ends in /v1)."""

    def __init__(
        self,
        flavor: Flavor,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        token_rate: float = 0.0,
    ) -> None:
        self.flavor = flavor
        self.responder: Responder = responder or Script()
        self.latency = latency
        self.token_rate = token_rate
        """Streamed deltas per second per response (0: as fast as the socket takes them)."""
        self.cache = PromptCache()
        self.streamed_deltas = 0
        super().__init__(self._handler(), "fake-llm")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def bodies(self, agent: str | None = None) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if agent is None or r.agent == agent]

    # -- usage ------------------------------------------------------------------------------------

    def _segments(self, body: dict[str, Any]) -> list[tuple[str, bool]]:
        tools = json.dumps(body.get("tools", []), sort_keys=True)
        if self.flavor == "openai":
            return [(tools, True)] + [(json.dumps(m, sort_keys=True), True) for m in body.get("messages", [])]
        system = body.get("system", "")
        blocks = system if isinstance(system, list) else [{"type": "text", "text": system}]
        segments = [(tools, any("cache_control" in t for t in body.get("tools", [])))]
        segments += [(json.dumps(b, sort_keys=True), "cache_control" in b) for b in blocks]
        for message in body.get("messages", []):
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            segments += [(json.dumps(p, sort_keys=True), "cache_control" in p) for p in parts]
        return segments

    # -- HTTP -------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                agent = server.record(self.path, self.headers, body).agent
                item = server.responder(agent, body)
                if server.latency:
                    time.sleep(server.latency)
                if isinstance(item, Failure):
                    self._fail(item)
                    return
                total, cached, written = server.cache.account(server._segments(body))
                if server.flavor == "openai":
                    events = openai_events(item, total, cached, body.get("model", "m"))
                else:
                    events = anthropic_events(
                        item, total - cached - written, cached, written, body.get("model", "m")
                    )
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                write_chunked(self.wfile, events, 1.0 / server.token_rate if server.token_rate else 0.0)
                with server._lock:
                    server.streamed_deltas += len(events)

            def _fail(self, failure: Failure) -> None:
                payload: dict[str, Any]
                if server.flavor == "openai":
                    payload = {
                        "error": {
                            "message": failure.message,
                            "type": "error",
                            "code": str(failure.status),
                        }
                    }
                else:
                    payload = {
                        "type": "error",
                        "error": {"type": "error", "message": failure.message},
                    }
                data = json.dumps(payload).encode()
                self.send_response(failure.status)
                for key, value in failure.headers.items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def openai_events(reply: Reply, prompt: int, cached: int, model: str) -> list[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in _chunks(reply.text, reply.chunk_chars)]
    for index, (name, args) in enumerate(reply.tool_calls):
        head = {
            "index": index,
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for piece in _chunks(json.dumps(args), 16):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    events.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    completion = max(1, len(reply.text) // reply.chunk_chars) + 10 * len(reply.tool_calls)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    final = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
    events.append(f"data: {json.dumps({**final, 'choices': [], 'usage': usage})}\n\n")
    events.append("data: [DONE]\n\n")
    return events


def anthropic_events(reply: Reply, uncached: int, cached: int, written: int, model: str) -> list[str]:
    def event(kind: str, data: dict[str, Any]) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    usage = {"input_tokens": uncached, "output_tokens": 1, "cache_read_input_tokens": cached}
    usage["cache_creation_input_tokens"] = written
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
    }
    events = [event("message_start", {"message": {**message, "stop_reason": None, "usage": usage}})]
    index = 0
    if reply.text:
        events.append(
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        )
        for piece in _chunks(reply.text, reply.chunk_chars):
            events.append(
                event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            )
        events.append(event("content_block_stop", {"index": 0}))
        index = 1
    for offset, (name, args) in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": f"toolu_{offset}", "name": name, "input": {}}
        events.append(event("content_block_start", {"index": index + offset, "content_block": block}))
        for piece in _chunks(json.dumps(args), 16):
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(event("content_block_delta", {"index": index + offset, "delta": delta}))
        events.append(event("content_block_stop", {"index": index + offset}))
    output = max(1, len(reply.text) // reply.chunk_chars) + 10 * len(reply.tool_calls)
    stop = "tool_use" if reply.tool_calls else "end_turn"
    events.append(
        event("message_delta", {"delta": {"stop_reason": stop}, "usage": {"output_tokens": output}})
    )
    events.append(event("message_stop", {}))
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flavor", choices=["openai", "anthropic"], default="openai")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--token-rate", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeLLMServer(
        args.flavor,
        lambda a, b: bench_script(a, b, args.tokens),
        latency=args.latency,
        token_rate=args.token_rate,
    )
    server.start()
    print(server.url, flush=True)
    try:
        for line in sys.stdin:  # a line "stats" prints the figures; EOF stops
            if line.strip() == "stats":
                print(
                    json.dumps({"requests": len(server.requests), "deltas": server.streamed_deltas}),
                    flush=True,
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()

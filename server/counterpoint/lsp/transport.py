"""The server's message loop over stdio or TCP, on our own `framing.FrameReader` (not pygls's).

Every message gets what JSON-RPC 2.0 allows: a body that is not UTF-8 JSON a ParseError
(-32700, id null), a broken frame a ParseError too (with the id of the request inside it when
it can be read, so that the editor is not left waiting), valid JSON that is no request,
notification or response an InvalidRequest (-32600). The input's end is logged in one line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from pygls.io_ import StdoutWriter

from counterpoint.lsp.framing import Broken, End, FrameReader, Source

if TYPE_CHECKING:
    from pygls.protocol import JsonRPCProtocol

    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
CHUNK = 1024 * 1024
AHEAD = 16


def reply_error(protocol: JsonRPCProtocol, request_id: int | str | None, code: int, message: str) -> None:
    """An error response, also with a null id (pygls's own messages would leave the id out)."""
    protocol._send_data({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def _id_of(data: dict[str, Any]) -> int | str | None:
    found = data.get("id")
    return found if isinstance(found, int | str) and not isinstance(found, bool) else None


def envelope_problem(data: Any) -> tuple[str, int | str | None] | None:
    """What makes ``data`` no JSON-RPC 2.0 message (and the id to answer), or None if it is one."""
    if not isinstance(data, dict):
        what = "a batch, which LSP does not use" if isinstance(data, list) and data else "not a JSON object"
        return what, None
    request_id = _id_of(data)
    if data.get("jsonrpc") != "2.0":
        return 'no "jsonrpc": "2.0" member', request_id
    if "method" in data:
        if not isinstance(data["method"], str):
            return "the method is not a string", request_id
        if "id" in data and request_id is None:
            return "the id is not an integer or a string", None
        return None
    if "id" in data and ("result" in data or "error" in data):
        return None  # a response to one of the server's requests
    return "neither a request, a notification nor a response", request_id


def dispatch(protocol: JsonRPCProtocol, body: bytes) -> None:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reply_error(protocol, None, PARSE_ERROR, f"Parse error: the message is not JSON in UTF-8 ({exc})")
        return
    problem = envelope_problem(data)
    if problem is not None:
        is_response = (
            isinstance(data, dict) and "method" not in data and ("result" in data or "error" in data)
        )
        if is_response:  # never answer a response, even a bad one
            log.warning("dropped a response that is not JSON-RPC 2.0")
        else:
            reply_error(protocol, problem[1], INVALID_REQUEST, f"Invalid request: {problem[0]}")
        return
    try:
        message = protocol.structure_message(data)
    except Exception as exc:  # a request got its InvalidParams from CounterpointProtocol
        log.warning("dropped %s: its params do not fit (%s)", data.get("method", "a response"), exc)
        return
    try:
        protocol.handle_message(message)
    except Exception:
        log.exception("handling %s failed", data.get("method", "a response"))


async def serve(source: Source, protocol: JsonRPCProtocol, stop: threading.Event) -> int:
    """Read and handle messages until the input ends; returns the exit status."""
    reader = FrameReader(source)
    while not stop.is_set():
        item = await reader.next()
        if isinstance(item, End):
            (log.info if item.code == 0 else log.error)("counterpoint lsp: %s", item.reason)
            return item.code
        if isinstance(item, Broken):
            log.warning("dropped a malformed message: %s", item.reason)
            reply_error(protocol, item.request_id, PARSE_ERROR, f"Parse error: {item.reason}")
            continue
        dispatch(protocol, item)
    return 0


def stdin_source(fd: int) -> Source:
    """Chunks of ``fd`` read by a daemon thread (a blocking read never holds up the loop or the
    interpreter's exit), at most `AHEAD` chunks ahead of the loop."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    room = threading.Semaphore(AHEAD)

    def pump() -> None:
        while True:
            room.acquire()
            try:
                chunk = os.read(fd, CHUNK)
            except OSError as exc:
                log.error("counterpoint lsp: reading stdin failed: %s", exc)
                chunk = b""
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: the server is exiting
                return
            if not chunk:
                return

    async def next_chunk() -> bytes:
        chunk = await chunks.get()
        room.release()
        return chunk

    threading.Thread(target=pump, name="lsp-stdin", daemon=True).start()
    return next_chunk


def serve_stdio(server: CounterpointServer, stdin: BinaryIO, stdout: BinaryIO) -> int:
    stop = server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> int:
        return await serve(stdin_source(stdin.fileno()), server.protocol, stop)

    try:
        return asyncio.run(main())
    except BrokenPipeError:
        log.error("counterpoint lsp: the connection to the client is lost; exiting")
        return 1
    except (KeyboardInterrupt, SystemExit):  # SystemExit: the `exit` notification
        return 0
    finally:
        server.shutdown()


def serve_tcp(server: CounterpointServer, host: str, port: int) -> int:
    """Listen on ``host:port`` (port 0: any free port, logged) and serve the first client."""
    stop = server._stop_event = threading.Event()
    status = 0

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal status
        server.protocol.set_writer(writer)
        status = await serve(lambda: reader.read(CHUNK), server.protocol, stop)
        server.shutdown()

    async def main() -> None:
        listener = server._server = await asyncio.start_server(connection, host, port)
        where = ", ".join(f"{sock.getsockname()[0]}:{sock.getsockname()[1]}" for sock in listener.sockets)
        log.warning("counterpoint lsp: listening on %s", where)
        async with listener:
            await listener.serve_forever()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        pass
    return status

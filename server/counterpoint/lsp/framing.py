"""Strict LSP base-protocol framing: split a byte stream into message bodies, survive bad frames.

pygls's reader stops answering for good after one malformed frame (a wrong Content-Length,
a bad header) and blocks on a too-long one. This reader instead:

- parses each header line strictly (``Name: value``, Content-Length a plain decimal number,
  at most `MAX_BODY` bytes) and reports a bad one as a `Broken` frame;
- after a broken frame, skips to the next ``Content-Length: N`` line (the resync point, spelt
  as the LSP specification and every client spell it);
- notices a wrong Content-Length: too long when the next header shows up inside the body, or
  when the client goes quiet after a complete JSON body; too short when the body is no JSON
  and what follows it is not a header;
- ends with `End` (and a one-line reason) at the end of the input, never hangs on it.

A header line can never occur inside a JSON body (a JSON string holds no raw newline and
``Content-Length`` is no JSON token), which is what makes the resync point safe to look for.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_BODY = 64 * 1024 * 1024
"""Larger messages are dropped, not allocated (a 20 MB spec is fine)."""
MAX_HEADER_LINE = 8 * 1024
MAX_HEADERS = 32
QUIET = 1.0
"""Seconds of silence after which an unfinished body that is already complete JSON counts as a
frame with a too-long Content-Length (no client pauses inside a message it has finished)."""
KEEP = 1024 * 1024
"""Bytes of a broken frame kept to find the id of the request inside it."""

HEADER_LINE = re.compile(rb"Content-Length:[ \t]*\d+[ \t]*\r?\n")
TOKEN = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
TAIL = 64
"""Bytes kept back while scanning, so that a header line split across reads is still found."""

Source = Callable[[], Awaitable[bytes]]
"""Returns the next bytes of the input, or b"" at its end."""


@dataclass
class Broken:
    """A frame that could not be read; ``request_id`` when the request inside it was found."""

    reason: str
    request_id: int | str | None = None


@dataclass
class End:
    """The end of the input; ``code`` is the exit status, ``reason`` the line to log."""

    code: int
    reason: str


def request_id_in(data: bytes) -> int | str | None:
    """The id of the JSON-RPC request in the bytes of a broken frame, if one can be told."""
    for candidate in (data, data.rpartition(b"\n\r\n")[2], data.rpartition(b"\n\n")[2]):
        try:
            message = json.loads(candidate.strip().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(message, dict) and "method" in message:
            found = message.get("id")
            if isinstance(found, int | str) and not isinstance(found, bool):
                return found
    return None


def find_header_line(data: bytearray, start: int, end: int | None = None) -> int:
    """Where the first ``Content-Length: N`` line in ``data[start:end]`` begins, or -1. (A plain
    find first: a regular expression over a 20 MB body costs ten times as much.)"""
    end = len(data) if end is None else min(end, len(data))
    while (found := data.find(b"Content-Length:", start, end)) >= 0:
        if HEADER_LINE.match(data, found, end):
            return found
        start = found + 1
    return -1


def _cannot_start_a_header(rest: bytes | bytearray) -> bool:
    """Whether the bytes right after a body are surely not the next frame's first header."""
    head = rest.lstrip(b"\r\n")[:15].lower()
    return bool(head) and not any(
        name.startswith(head) or head.startswith(name) for name in (b"content-length:", b"content-type:")
    )


def _complete_json(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


class FrameReader:
    """``await next()`` gives a body (bytes), a `Broken` frame or the `End` of the input."""

    def __init__(self, source: Source, quiet: float = QUIET) -> None:
        self._source = source
        self._quiet = quiet
        self._buf = bytearray()
        self._eof = False
        self._pending: asyncio.Future[bytes] | None = None

    async def _more(self, timeout: float | None = None) -> bool | None:
        """Read on: True when bytes came, False at the end, None after ``timeout`` s of silence."""
        if self._eof:
            return False
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._source())
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        chunk = self._pending.result()
        self._pending = None
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def next(self) -> bytes | Broken | End:
        headers = await self._headers()
        if not isinstance(headers, int):
            return headers
        return await self._body(headers)

    async def _headers(self) -> int | Broken | End:
        length: int | None = None
        count = 0
        while True:
            newline = self._buf.find(b"\n")
            if newline < 0:
                if len(self._buf) > MAX_HEADER_LINE:
                    return await self._resync("a header line longer than 8 KiB")
                if not await self._more():
                    if not self._buf and not count:
                        return End(0, "the client closed the connection; exiting")
                    return End(1, f"the input ended inside a header ({bytes(self._buf[:40])!r}); exiting")
                continue
            line = bytes(self._buf[:newline]).rstrip(b"\r")
            if not line:
                del self._buf[: newline + 1]
                if not count:
                    continue  # a stray blank line between frames
                if length is None:
                    return await self._resync("a header without a Content-Length")
                return length
            count += 1
            name, colon, value = line.partition(b":")
            if not colon:
                return await self._resync(f"a header line without a colon: {line[:40]!r}", skip_from=1)
            if not TOKEN.fullmatch(name) or count > MAX_HEADERS:
                return await self._resync(f"not a header: {line[:40]!r}", skip_from=1)
            del self._buf[: newline + 1]
            if name.lower() != b"content-length":
                continue  # Content-Type (utf-8 is the only charset) or an unknown header
            value = value.strip(b" \t")
            if not value.isdigit() or len(value) > 15:
                return await self._resync(f"a Content-Length that is not a number: {value[:20]!r}")
            if length is not None and length != int(value):
                return await self._resync("two Content-Length headers that disagree")
            length = int(value)

    async def _body(self, length: int) -> bytes | Broken | End:
        if length > MAX_BODY:
            return await self._resync(f"a Content-Length of {length} bytes, over the 64 MiB limit")
        scanned = 0
        while True:
            found = find_header_line(self._buf, scanned, length + TAIL)
            if 0 <= found < length:  # the next frame starts inside this body: the length was too long
                return self._broken(found, f"Content-Length {length}, but the next header came after")
            if len(self._buf) >= length:
                break
            scanned = max(0, len(self._buf) - TAIL)
            more = await self._more(self._quiet)
            if more is None:
                if _complete_json(bytes(self._buf)):  # the client waits for a reply to this
                    return self._broken(
                        len(self._buf), f"Content-Length {length}, but the message ended after"
                    )
                more = await self._more()
            if more is False:
                return End(
                    1,
                    f"the input ended inside a message (Content-Length {length}, "
                    f"{len(self._buf)} bytes came); exiting",
                )
        if _cannot_start_a_header(self._buf[length : length + TAIL]) and not _complete_json(
            bytes(self._buf[:length])
        ):  # a cut body with no header after it: the length was too short
            return await self._resync(f"Content-Length {length} cut the message")
        with memoryview(self._buf) as view:  # one copy, not two
            body = bytes(view[:length])
        del self._buf[:length]
        return body

    def _broken(self, end: int, reason: str) -> Broken:
        data = bytes(self._buf[:end])
        del self._buf[:end]
        return Broken(f"{reason} {len(data)} bytes", request_id_in(data[:KEEP]))

    async def _resync(self, reason: str, skip_from: int = 0) -> Broken | End:
        """Drop bytes up to the next ``Content-Length: N`` line found from ``skip_from`` on; the
        dropped ones were the broken frame."""
        kept = bytearray()
        dropped = 0
        while True:
            found = find_header_line(self._buf, skip_from)
            end = found if found >= 0 else max(skip_from, len(self._buf) - TAIL)
            if len(kept) < KEEP:
                kept += self._buf[: min(end, KEEP - len(kept))]
            dropped += end
            del self._buf[:end]
            skip_from = 0
            if found >= 0:
                return Broken(f"{reason}; skipped {dropped} bytes", request_id_in(bytes(kept)))
            if not await self._more():
                return End(
                    1, f"the input ended after {reason} ({dropped + len(self._buf)} bytes skipped); exiting"
                )

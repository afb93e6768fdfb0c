"""Frame-reader benchmark: our strict `counterpoint.lsp.framing` reader vs pygls's own loop.

Both read the same bytes from an in-memory `asyncio.StreamReader` and parse each body as JSON
(nothing is handled), so the figures are the reader's own cost: many small messages, and one
20 MB message (a large spec opened in the editor). Target: ours <= 1.3x pygls's time.

``python -m benchmarks framing [--small N] [--megabytes M] [--repeat R]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from typing import Any

from counterpoint.lsp.framing import FrameReader
from counterpoint.lsp.transport import CHUNK
from pygls.io_ import run_async


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def stream(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=2**31)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


class Counting:
    """What pygls's loop needs of a protocol: parse, count."""

    def __init__(self) -> None:
        self.count = 0

    def structure_message(self, data: dict[str, Any]) -> dict[str, Any]:
        return data

    def handle_message(self, message: Any) -> None:
        self.count += 1


async def with_pygls(data: bytes) -> int:
    protocol = Counting()
    await run_async(threading.Event(), stream(data), protocol)  # type: ignore[arg-type]
    return protocol.count


async def with_ours(data: bytes) -> int:
    reader = stream(data)
    frames = FrameReader(lambda: reader.read(CHUNK))
    count = 0
    while isinstance(body := await frames.next(), bytes):
        json.loads(body.decode("utf-8"))
        count += 1
    return count


def timed(fn: Any, data: bytes, expected: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert asyncio.run(fn(data)) == expected
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks framing")
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    status = {"jsonrpc": "2.0", "method": "workspace/executeCommand"}
    small = b"".join(
        frame(json.dumps({**status, "id": i, "params": {"command": "counterpoint.status"}}).encode())
        for i in range(args.small)
    )
    text = ("- " + "x" * 97 + "\n") * (args.megabytes * 10_000)
    large = frame(json.dumps({"jsonrpc": "2.0", "method": "didOpen", "params": {"text": text}}).encode())
    results: dict[str, Any] = {}
    print(f"{'input':<28} {'pygls ms':>10} {'ours ms':>10} {'ratio':>7}")
    for name, data, count in [
        (f"{args.small} small messages", small, args.small),
        (f"one {args.megabytes} MB message", large, 1),
    ]:
        theirs = timed(with_pygls, data, count, args.repeat)
        ours = timed(with_ours, data, count, args.repeat)
        ratio = ours / theirs
        print(f"{name:<28} {theirs * 1000:>10.1f} {ours * 1000:>10.1f} {ratio:>6.2f}x")
        results[name] = {"pygls_ms": theirs * 1000, "ours_ms": ours * 1000, "ratio": ratio}
    print(json.dumps({"framing": results}))
    return results


if __name__ == "__main__":
    main()

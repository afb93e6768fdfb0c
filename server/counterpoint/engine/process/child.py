"""A child process started off the event loop, driven from it.

`counterpoint.engine.process.spawn` starts children on a thread of their own (``subprocess.Popen``)
so that the event loop never waits for a fork and exec; `Child` then gives the loop what
``asyncio.subprocess.Process`` gives: the pipes as asyncio streams, ``wait()``, ``returncode``.
Its exit is seen through a pidfd on the loop (Linux), else by a thread that waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from typing import IO


def await_exit(popen: subprocess.Popen[bytes]) -> asyncio.Future[int]:
    """A future of the running loop set to the child's exit code once it exits (and is reaped)."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()

    def settle(code: int) -> None:
        if not exited.done():
            exited.set_result(code)

    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):  # not Linux (or too old a kernel): a thread waits
        pidfd = None
    if pidfd is None:

        def wait_in_thread() -> None:
            code = popen.wait()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(settle, code)

        threading.Thread(target=wait_in_thread, name=f"wait {popen.pid}", daemon=True).start()
        return exited

    def readable() -> None:
        code = popen.poll()
        if code is None:
            return
        loop.remove_reader(pidfd)
        os.close(pidfd)
        settle(code)

    loop.add_reader(pidfd, readable)
    readable()  # it may be gone already
    return exited


class Child:
    """What the loop needs of a started child: pid, pipes as streams, its exit."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        exited: asyncio.Future[int],
        stdin: asyncio.StreamWriter | None,
        stdout: asyncio.StreamReader | None,
        stderr: asyncio.StreamReader | None,
    ) -> None:
        self.pid = popen.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._popen = popen
        self._exited = exited

    @classmethod
    async def attach(cls, popen: subprocess.Popen[bytes], exited: asyncio.Future[int], limit: int) -> Child:
        """Connect the child's pipes (those that are pipes) to the running loop; if that is cut
        short (a cancel), what was connected is closed again."""
        opened: list[asyncio.BaseTransport] = []
        try:
            stdin = await _writer(popen.stdin, opened) if popen.stdin is not None else None
            stdout = await _reader(popen.stdout, limit, opened) if popen.stdout is not None else None
            stderr = await _reader(popen.stderr, limit, opened) if popen.stderr is not None else None
        except BaseException:
            for transport in opened:
                transport.close()
            raise
        return cls(popen, exited, stdin, stdout, stderr)

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        """Wait for the child to exit; its exit code (negative: killed by that signal)."""
        return await asyncio.shield(self._exited)


async def _reader(pipe: IO[bytes], limit: int, opened: list[asyncio.BaseTransport]) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    opened.append(transport)
    return reader


async def _writer(pipe: IO[bytes], opened: list[asyncio.BaseTransport]) -> asyncio.StreamWriter:
    loop = asyncio.get_running_loop()
    protocol = asyncio.StreamReaderProtocol(asyncio.StreamReader())
    transport, _ = await loop.connect_write_pipe(lambda: protocol, pipe)
    opened.append(transport)
    return asyncio.StreamWriter(transport, protocol, None, loop)

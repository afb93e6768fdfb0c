"""``counterpoint lsp`` as a raw subprocess (stdio or ``--tcp``) for malformed-frame tests.

Unlike `harness.Framed`, nothing here blocks without a bound: a thread parses the server's
frames into a queue and another collects its stderr, so a server that stops answering fails
the test after ``timeout`` seconds instead of hanging it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

WAIT = 30.0
"""Upper bound for any single expectation (a busy machine is slow; a hang is not)."""


def frame(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


def request(request_id: int | str, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def status(request_id: int) -> bytes:
    return request(
        request_id, "workspace/executeCommand", {"command": "counterpoint.status", "arguments": []}
    )


class RawServer:
    """Write raw bytes to the server; read its frames and stderr with bounded waits."""

    def __init__(self, folder: Path, *, tcp: bool = False) -> None:
        self.folder = folder
        args = [sys.executable, "-m", "counterpoint", "lsp"] + (["--tcp", "127.0.0.1:0"] if tcp else [])
        self.proc = subprocess.Popen(
            args,
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr_lines: list[str] = []
        self._stderr_changed = threading.Condition()
        self.sock: socket.socket | None = None
        threading.Thread(target=self._collect_stderr, daemon=True).start()
        if tcp:
            line = self.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)")
            port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            self._out: IO[bytes] = self.sock.makefile("rb")
        else:
            assert self.proc.stdout is not None
            self._out = self.proc.stdout
        threading.Thread(target=self._collect_frames, daemon=True).start()

    # -- background readers ---------------------------------------------------------------------

    def _collect_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._stderr_changed:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._stderr_changed.notify_all()
        with self._stderr_changed:
            self.stderr_lines.append("<EOF>")
            self._stderr_changed.notify_all()

    def _collect_frames(self) -> None:
        try:
            while True:
                length = None
                while True:
                    line = self._out.readline()
                    if not line:
                        return
                    if line == b"\r\n":
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                assert length is not None
                self.messages.put(json.loads(self._out.read(length)))
        except (OSError, ValueError):
            return
        finally:
            self.messages.put(None)

    # -- talking --------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def close_input(self) -> None:
        if self.sock is not None:
            self.sock.shutdown(socket.SHUT_WR)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def replies(self, count: int, timeout: float = WAIT) -> list[dict[str, Any]]:
        """The next ``count`` responses (messages without a method), in order; the server's
        requests are answered with null and its notifications skipped."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{len(found)} of {count} replies in {timeout} s: {found}") from None
            if message is None:
                raise AssertionError(f"the server closed its output after {found}; stderr: {self.stderr()}")
            if "method" in message:
                if "id" in message:
                    self.send(
                        frame(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}).encode())
                    )
                continue
            found.append(message)
        return found

    def initialize(self) -> None:
        params = {"processId": os.getpid(), "rootUri": self.folder.as_uri(), "capabilities": {}}
        self.send(frame(request(1, "initialize", params)))
        [reply] = self.replies(1)
        assert "result" in reply, reply
        self.send(frame(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode()))

    def stderr(self) -> str:
        with self._stderr_changed:
            return "\n".join(self.stderr_lines)

    def wait_for_log(self, pattern: str, timeout: float = WAIT) -> str:
        """The first stderr line matching ``pattern`` (waits for it, bounded)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._stderr_changed:
            while True:
                for line in self.stderr_lines:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.stderr_lines and self.stderr_lines[-1] == "<EOF>"):
                    raise AssertionError(f"no log line matching {pattern!r}: {self.stderr()}")
                self._stderr_changed.wait(left)

    def wait_exit(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.sock is not None:
            self.sock.close()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

"""A watchdog process that kills agents' process groups when Counterpoint dies, even by SIGKILL.

PR_SET_PDEATHSIG only reaches a direct child, not what that child started. So
the first child process also starts this small watchdog, connected by a pipe:
Counterpoint writes ``+PGID`` / ``-PGID`` lines as groups start and end, and
when the pipe closes (Counterpoint exited, crashed or was killed) the watchdog
kills every group still registered, then exits.

Started as ``python -c 'from counterpoint.engine.process.watchdog import main; main()'`` (only
Counterpoint does that; ``-m`` would run a second copy of a module its package already imported).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger(__name__)


class Watchdog:
    """The server's side: a pipe to the watchdog process."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> subprocess.Popen[bytes] | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from counterpoint.engine.process.watchdog import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not in our group: a Ctrl-C to us must not kill it first
                close_fds=True,
            )
        except OSError:
            log.exception("could not start the watchdog")
            self._proc = None
        return self._proc

    def _send(self, line: str) -> None:
        with self._lock:
            proc = self._ensure()
            if proc is None or proc.stdin is None:
                return
            try:
                proc.stdin.write(line.encode() + b"\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._proc = None

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def release(self, pgid: int) -> None:
        if self._proc is not None:
            self._send(f"-{pgid}")


def _kill(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def main() -> None:
    groups: set[int] = set()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for raw in sys.stdin.buffer:
        line = raw.decode(errors="replace").strip()
        if len(line) < 2 or not line[1:].isdigit():
            continue
        pgid = int(line[1:])
        if line[0] == "+":
            groups.add(pgid)
        elif line[0] == "-":
            groups.discard(pgid)
    # EOF: Counterpoint is gone. Nothing it started may outlive it.
    for pgid in groups:
        _kill(pgid)


if __name__ == "__main__":
    main()

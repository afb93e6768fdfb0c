"""Child processes of agents and checks: own process group, bounded output, no orphans.

Each child starts in a new session (its own process group) so that a cancel or
timeout kills the whole group, and with PR_SET_PDEATHSIG on Linux so that it
dies with the server even when the server is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterpoint.engine.watchdog import Watchdog

log = logging.getLogger(__name__)

MAX_LINE = 8192
"""Longer output lines are cut (a flood of bytes without newlines stays bounded)."""
_PR_SET_PDEATHSIG = 1

_live: set[int] = set()
"""Process group ids of every live child, for killing them all at exit."""
_watchdog: Watchdog | None = None


def watch_group(pgid: int) -> None:
    """Register a child's process group: killed at exit, and by the watchdog if we die."""
    global _watchdog
    _live.add(pgid)
    if _watchdog is None:
        _watchdog = Watchdog()
    _watchdog.watch(pgid)


def release_group(pgid: int) -> None:
    _live.discard(pgid)
    if _watchdog is not None:
        _watchdog.release(pgid)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_all_children() -> None:
    """Kill every child process group still alive (used at server exit)."""
    for pgid in list(_live):
        kill_group(pgid)
    _live.clear()


@dataclass
class ProcessResult:
    exit_code: int
    stdout_tail: list[str]
    stderr_tail: list[str]


async def _pump(stream: asyncio.StreamReader, on_line: Callable[[str], None], tail: list[str]) -> None:
    pending = b""
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        pending += chunk
        while True:
            newline = pending.find(b"\n")
            if newline < 0:
                if len(pending) > MAX_LINE:  # no newline in sight: emit what we have, cut
                    _emit(pending[:MAX_LINE], on_line, tail, cut=True)
                    pending = b""
                break
            line, pending = pending[:newline], pending[newline + 1 :]
            _emit(line, on_line, tail, cut=len(line) > MAX_LINE)
    if pending:
        _emit(pending, on_line, tail, cut=len(pending) > MAX_LINE)


def _emit(raw: bytes, on_line: Callable[[str], None], tail: list[str], *, cut: bool) -> None:
    text = raw[:MAX_LINE].decode("utf-8", errors="replace").rstrip("\r")
    if cut:
        text += " [cut]"
    text = text.replace("\x00", "")
    tail.append(text)
    if len(tail) > 50:
        del tail[:-50]
    on_line(text)


async def spawn_shell(command: str, **kwargs: Any) -> asyncio.subprocess.Process:
    """Start ``command`` in a new session (its own process group) that dies with us, registered
    with the watchdog. A cancel that arrives while the child is being started does not lose it:
    the child is killed before the cancel goes on."""
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_shell(
            command, start_new_session=True, preexec_fn=_die_with_parent, **kwargs
        )
    )
    try:
        proc = await asyncio.shield(spawning)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            late = await spawning
            kill_group(late.pid)
            await late.wait()
        raise
    watch_group(proc.pid)
    return proc


async def run_process(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_stdout: Callable[[str], None],
    on_stderr: Callable[[str], None] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
) -> ProcessResult:
    """Run ``command`` through the shell; kill its whole group on cancel or timeout (TimeoutError)."""
    proc = await spawn_shell(
        command,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    pgid = proc.pid
    out_tail: list[str] = []
    err_tail: list[str] = []
    try:

        async def feed() -> None:
            if stdin is not None and proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    proc.stdin.write(stdin)
                    await proc.stdin.drain()
                    proc.stdin.close()

        async def communicate() -> int:
            assert proc.stdout is not None and proc.stderr is not None
            await asyncio.gather(
                feed(),
                _pump(proc.stdout, on_stdout, out_tail),
                _pump(proc.stderr, on_stderr or on_stdout, err_tail),
            )
            return await proc.wait()

        code = await asyncio.wait_for(communicate(), timeout)
        return ProcessResult(code, out_tail, err_tail)
    finally:
        # Whatever happened (cancel, timeout, done): nothing of this group may survive.
        kill_group(pgid, signal.SIGTERM)
        if proc.returncode is None:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), 2)
            except (TimeoutError, asyncio.CancelledError):
                pass
        kill_group(pgid, signal.SIGKILL)
        release_group(pgid)
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 2)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for children: ours plus the extra variables."""
    env = dict(os.environ)
    # `python` in a spec's commands means the interpreter Counterpoint runs on (its venv first on PATH).
    bindir = os.path.dirname(sys.executable)
    if bindir and env.get("PATH", "").split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env

"""Child processes of agents and checks: own process group, bounded output, no orphans.

Each child starts in a new session (its own process group) so that a cancel or
timeout kills the whole group, is registered with the watchdog (which kills its
group when the server dies, even by SIGKILL), and on Linux also gets
PR_SET_PDEATHSIG through ``setpriv``. Children are started on a thread of their
own with nothing to run between fork and exec (so Python uses vfork): the event
loop never waits for a start, however many agents start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterpoint.engine.process.child import Child, await_exit
from counterpoint.engine.process.watchdog import Watchdog

log = logging.getLogger(__name__)

MAX_LINE = 8192
"""Longer output lines are cut (a flood of bytes without newlines stays bounded)."""
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counterpoint-spawn")
"""Children are started on this one thread, off the event loop. It lives as long as we do, which
matters: PR_SET_PDEATHSIG fires when the *thread* that started the child ends."""

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


@functools.cache
def _pdeathsig_prefix() -> tuple[str, ...]:
    """The exec wrapper that sets PR_SET_PDEATHSIG in the child: util-linux ``setpriv`` (in
    Debian's and most Linux base images), checked once. A Python ``preexec_fn`` would do it too,
    but forces a full fork of this (big) process and runs Python in the child, per start.
    Without it (not Linux, no ``setpriv``) the watchdog alone kills children when we die."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return ()
    prefix = (setpriv, "--pdeathsig", "KILL", "--")
    try:
        probe = subprocess.run([*prefix, "/bin/sh", "-c", ":"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if probe.returncode == 0 else ()


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


async def spawn_shell(command: str, *, limit: int = 2**16, **kwargs: Any) -> Child:
    """Start ``command`` through ``/bin/sh`` in a new session (its own process group) that dies
    with us, registered with the watchdog. The start happens on the spawner thread: the event
    loop keeps answering however many children start at once. A cancel that arrives while the
    child is being started does not lose it: the child is killed before the cancel goes on."""
    loop = asyncio.get_running_loop()
    spawning = loop.run_in_executor(_SPAWNER, functools.partial(_popen, command, **kwargs))
    try:
        popen = await asyncio.shield(spawning)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            late = await spawning
            _abandon(late)
            await_exit(late)  # reaps it
        raise
    exited = await_exit(popen)  # before any await: no exit goes unseen
    try:
        return await Child.attach(popen, exited, limit)
    except BaseException:
        _abandon(popen)
        raise


def _popen(command: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """On the spawner thread: start the child (vfork and exec: no Python code runs in it), and
    register its group with the watchdog right away."""
    popen = subprocess.Popen(
        [*_pdeathsig_prefix(), "/bin/sh", "-c", command], start_new_session=True, bufsize=0, **kwargs
    )
    watch_group(popen.pid)
    return popen


def _abandon(popen: subprocess.Popen[bytes]) -> None:
    """A child that will not be used: kill its group, close its pipes (its exit watcher reaps it)."""
    kill_group(popen.pid)
    release_group(popen.pid)
    for pipe in (popen.stdin, popen.stdout, popen.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


async def run_process(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_stdout: Callable[[str], None],
    on_stderr: Callable[[str], None] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    on_spawn: Callable[[int], None] | None = None,
) -> ProcessResult:
    """Run ``command`` through the shell; kill its whole group on cancel or timeout (TimeoutError).
    ``on_spawn(pid)`` is called once the child runs, before any of its output is read."""
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
        if on_spawn is not None:
            on_spawn(pgid)

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


PRIVATE_ENV = frozenset({"COUNTERPOINT_EVENTS_URL"})
"""Ours, never an agent's or a check's (an ``env:`` of the spec may still set it on purpose)."""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for children: ours plus the extra variables, without Counterpoint's own
    event-log URL (it may carry the database's password; agents have no business there)."""
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    # `python` in a spec's commands means the interpreter Counterpoint runs on (its venv first on PATH).
    bindir = os.path.dirname(sys.executable)
    if bindir and env.get("PATH", "").split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env

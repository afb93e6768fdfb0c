"""A guard on the node: when the actor process dies, its agents' process groups die too.

Ray kills an actor's process when its driver (the coordinator) goes away, and the worker's direct
children with it (SIGKILL) — among them the process room's watchdog, before it can kill the
groups it was told of; what an agent's shell started lives on. So each actor starts this guard
outside its own tree (started through a short-lived launcher: no child of the actor): it notes
the process group of every child the actor starts (each agent's process runs in a group of its
own), and when the actor's pipe closes, it kills those groups and every process that carries the
actor's mark in its environment (`MARK`, which the agent's processes inherit: so even one started
an instant before the actor died is found), and ends.

Started as ``python -S node_guard.py PID`` (this file as a script: the standard library only).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import uuid

TICK_S = 0.1
MARK = "COUNTERPOINT_NODE_GUARD"
"""In the environment of an agent's processes: ``<actor pid>-<token>``."""
READY_S = 10.0


def start() -> tuple[int, str]:
    """The guard of this process, started and watching; returns the pipe end to keep open (its
    closing, by death, is what the guard waits for) and the mark for the agents' environment."""
    mark = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    read, write = os.pipe()
    ready_read, ready_write = os.pipe()
    os.set_inheritable(write, False)
    guard = [sys.executable, "-S", __file__, str(os.getpid()), mark]  # stdlib only: it starts at once
    launcher = (
        "import subprocess, sys; "
        f"subprocess.Popen({guard!r}, stdin=0, stdout=1, stderr=subprocess.DEVNULL, "
        "start_new_session=True, close_fds=True)"
    )
    subprocess.run([sys.executable, "-S", "-c", launcher], stdin=read, stdout=ready_write, check=False)
    os.close(read)
    os.close(ready_write)
    try:  # the guard has looked once: from now on what the actor starts is seen
        select.select([ready_read], [], [], READY_S)
    finally:
        os.close(ready_read)
    return write, mark


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, process group) of ``pid``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            text = file.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def _groups_of_children(parent: int, skip: set[int]) -> set[int]:
    found = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            stat = _stat(pid)
            if stat is not None and stat[0] == parent and stat[1] not in skip:
                found.add(stat[1])
    return found


def _marked(mark: str) -> set[int]:
    """The process groups of every process whose environment carries ``mark``."""
    needle = f"{MARK}={mark}".encode() + b"\0"
    groups = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as file:
                if needle not in file.read() + b"\0":
                    continue
        except OSError:
            continue
        stat = _stat(pid)
        if stat is not None:
            groups.add(stat[1])
    return groups


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    actor = int(sys.argv[1])
    own = {os.getpgid(0)}
    with contextlib.suppress(OSError):
        own.add(os.getpgid(actor))
    groups: set[int] = _groups_of_children(actor, own)
    with contextlib.suppress(OSError):
        os.write(1, b"ready\n")
        os.close(1)
    while True:
        ready, _, _ = select.select([0], [], [], TICK_S)
        groups |= _groups_of_children(actor, own)
        if ready and not os.read(0, 4096):
            break  # the actor is gone
    if len(sys.argv) > 2:
        groups |= _marked(sys.argv[2]) - own
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        time.sleep(0.2)


if __name__ == "__main__":
    main()

"""One live run per spec across processes: an OS lock on a file under ``.counterpoint/locks/``.

`try_lock` takes ``flock(LOCK_EX | LOCK_NB)`` on the spec's lock file and keeps the descriptor
open for the run's life: the kernel decides atomically which of several processes starting the
same spec at once wins, and releases the lock when its holder dies, even by SIGKILL. The
descriptor is not inherited by agents' processes (Python opens files non-inheritable), so an
orphaned child never keeps a spec locked. Lock files are never deleted (deleting one would let
two processes lock two different files of the same name). The holder writes its pid and run id
into the file so a refused process can say who holds it. All calls block: run them in a thread.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

LOCKS_DIR = "locks"
HOLDER_TRIES = 20


@dataclass
class Holder:
    """Who holds a spec's lock, as its file says (``None`` when it has not written it yet)."""

    pid: int | None
    run_id: str | None


class SpecLock:
    """A held lock; `release` (or the death of the process) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def set_run(self, run_id: str) -> None:
        """Record the run holding the lock, for the message a refused process shows."""
        self._write({"pid": os.getpid(), "run_id": run_id})

    def _write(self, holder: dict[str, object]) -> None:
        if self._fd is None:
            return
        data = json.dumps(holder).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


def lock_path(state_dir: Path, spec: Path) -> Path:
    """The lock file of ``spec`` (a resolved path): a readable stem and a hash of the whole path."""
    digest = hashlib.sha256(str(spec).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name)[:40].lstrip(".") or "spec"
    return state_dir / LOCKS_DIR / f"{stem}-{digest}.lock"


def try_lock(state_dir: Path, spec: Path) -> SpecLock | Holder:
    """Lock ``spec`` for this process, or say who holds it. Raises `OSError` on I/O failures.

    A holder writes its pid just after it got the lock: a refused process that reads the file
    in between (or finds the pid of a dead holder) tries again for a moment, so the holder it
    names is the live one.
    """
    path = lock_path(state_dir, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = Holder(None, None)
    for attempt in range(HOLDER_TRIES):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = read_holder(path)
            if holder.pid is not None and pid_alive(holder.pid):
                return holder
            time.sleep(0.01 * (attempt + 1))
            continue
        lock = SpecLock(path, fd)
        try:
            lock._write({"pid": os.getpid(), "run_id": None})
        except OSError:
            lock.release()
            raise
        return lock
    return holder


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a killed child not yet reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_holder(path: Path) -> Holder:
    try:
        data = json.loads(path.read_bytes() or b"{}")
    except (OSError, ValueError):
        return Holder(None, None)
    if not isinstance(data, dict):
        return Holder(None, None)
    pid, run_id = data.get("pid"), data.get("run_id")
    return Holder(
        pid if isinstance(pid, int) else None,
        run_id if isinstance(run_id, str) else None,
    )

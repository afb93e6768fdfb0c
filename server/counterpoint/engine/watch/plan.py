"""Which folders the workspace watcher asks the OS to watch, and the threads that drain them.

`plan_watches` walks the non-ignored folders once (no file is looked at) and splits them in
two: folders holding an ignored folder somewhere below them (the root, `app/` when `app/build/`
is gitignored, `packages/x/` with its `node_modules/`) are watched alone, each with its direct
entries only; every other folder whose parent is watched alone is watched recursively. Ignored
trees are then covered by no watch at all, so a burst of files in them costs nothing.

`WatchLoop` is one watchfiles `RustNotify` over some paths and the thread draining it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles._rust_notify import RustNotify

from counterpoint.engine.watch.ignore import VENV_MARKER, IgnoreRules

log = logging.getLogger(__name__)


@dataclass
class WatchPlan:
    """Folders (absolute) to watch alone, and folders to watch with everything below them."""

    flat: list[str] = field(default_factory=list)
    recursive: list[str] = field(default_factory=list)


def plan_watches(rules: IgnoreRules, root: str) -> WatchPlan:
    """The watch plan for `root` (blocking: run it in a thread). `FileNotFoundError` (or
    `NotADirectoryError`) when `root` is not a folder."""
    if not os.path.isdir(root):
        os.scandir(root).close()  # raises the right error
    dirty: set[str] = {root}  # folders with an ignored folder somewhere below
    parents: dict[str, str] = {}

    def mark_dirty(folder: str) -> None:
        dirty.add(folder)
        while folder != root and (folder := parents[folder]) not in dirty:
            dirty.add(folder)

    for current, dirnames, filenames in os.walk(root):
        if current != root and VENV_MARKER in filenames:  # a virtual environment: ignored
            rules.note_venv(Path(current))
            del parents[current]
            mark_dirty(os.path.dirname(current))
            dirnames[:] = []
            continue
        keep: list[str] = []
        for name in dirnames:
            if rules.child_dir_ignored(current, name):
                mark_dirty(current)
            else:
                keep.append(name)
                parents[os.path.join(current, name)] = current
        dirnames[:] = keep  # os.walk does not enter symlinked folders
    plan = WatchPlan(flat=sorted(dirty))
    plan.recursive = sorted(d for d, parent in parents.items() if d not in dirty and parent in dirty)
    plan.flat = [d for d in plan.flat if d == root or d in parents]
    plan.recursive = [d for d in plan.recursive if not os.path.islink(d)]
    return plan


class WatchLoop:
    """One `RustNotify` instance and the thread that drains it into `process`."""

    def __init__(
        self,
        process: Callable[[set[tuple[int, str]]], None],
        paths: list[str],
        *,
        recursive: bool,
        name: str,
        step_ms: int,
        debounce_ms: int,
        generation: int = 0,
        own: bool = False,
    ) -> None:
        self._process = process
        self.paths = paths
        self.recursive = recursive
        self.generation = generation
        """The plan this loop belongs to; a new plan retires the loops of older ones."""
        self.own = own
        """Made for folders created during the run (not part of a plan)."""
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._stop = threading.Event()
        # Watches are active once the constructor returns (events are buffered until watch()).
        self._notify = RustNotify(paths, False, False, 50, recursive, True)
        self._thread = threading.Thread(target=self._run, name=f"counterpoint-watch-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                result = self._notify.watch(self._debounce_ms, self._step_ms, 0, self._stop)
                if isinstance(result, str):
                    continue  # "stop" (loop condition ends it), "signal" or "timeout"
                self._process(result)
        except Exception:
            if not self._stop.is_set():
                log.warning("watch on %s ended", self.paths[:3], exc_info=True)
        finally:
            self._notify.close()

    def discard(self) -> None:
        """Release a loop that was never started."""
        self._notify.close()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def alive(self) -> bool:
        """Whether the thread is still running."""
        return self._thread.is_alive()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

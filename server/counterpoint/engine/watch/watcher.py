"""Workspace watching while a run is live: file events in, batches of `FileChange` out.

`WorkspaceWatcher` drives watchfiles' Rust notify backend (`RustNotify`) from threads of its own,
on a *watch plan* (`plan_watches`) so that ignored trees (`node_modules`, `.venv`, gitignored
`build/`, ...) never reach the Rust side, wherever they are nested: a folder holding an ignored
folder somewhere below is watched alone (not recursively), and each folder below it free of
ignored folders is watched recursively. Folders made during the run under a folder watched
alone get a recursive watch of their own (one per batch of events) and are rescanned, since
inotify misses files written before a folder's watch exists; an ignored folder appearing inside
a recursive watch, a `.gitignore` change, or too many watches of their own lead to a new plan,
made in the background and swapped in once active (the old watches run until then: nothing is
missed). The per-event work for what is still ignored is a dictionary look-up on its folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from counterpoint.engine.watch.ignore import IGNORED_DIR_NAMES, IgnoreRules
from counterpoint.engine.watch.plan import WatchLoop, WatchPlan, plan_watches

log = logging.getLogger(__name__)

ChangeKind = Literal["added", "modified", "deleted"]
_KIND_BY_CODE: dict[int, ChangeKind] = {1: "added", 2: "modified", 3: "deleted"}

DEFAULT_STEP_MS = 5
"""Rust-side poll step: a lone change is delivered after 1-2 steps of quiet."""
DEFAULT_DEBOUNCE_MS = 20
"""Longest a batch is held while changes keep coming."""
MAX_OWN_WATCHES = 8
"""Watches of their own (folders made in the run) before the plan is made again as one."""
REPORTED_LIMIT = 20_000
"""Files remembered as reported (for "added" once each); the oldest are forgotten past this."""


@dataclass(frozen=True)
class FileChange:
    """One change to one path (absolute). Deletions may name folders; other kinds are files."""

    path: Path
    kind: ChangeKind


def _collapse(path: str, codes: set[int]) -> ChangeKind:
    """One kind per path; when a batch holds several, the disk decides."""
    if len(codes) == 1:
        return _KIND_BY_CODE.get(next(iter(codes)), "modified")
    if not os.path.lexists(path):
        return "deleted"
    return "added" if 1 in codes else "modified"


def _remember(reported: dict[str, None], path: str) -> None:
    """Note `path` as reported (the caller holds the lock); the oldest are forgotten past REPORTED_LIMIT."""
    reported.pop(path, None)
    reported[path] = None
    if len(reported) > REPORTED_LIMIT:
        del reported[next(iter(reported))]


def _covered(directory: str, root: str, flat: set[str], recursive: set[str]) -> bool:
    """Whether a watch already covers `directory`: watched alone, or under a recursive watch."""
    if directory in flat:
        return True
    current = directory
    while len(current) > len(root):
        if current in recursive:
            return True
        current = os.path.dirname(current)
    return False


def _under(directory: str, root: str, folders: set[str]) -> bool:
    """Whether `directory` is one of `folders` or below one (up to the root, included)."""
    current = directory
    while len(current) >= len(root):
        if current in folders:
            return True
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return False


class WorkspaceWatcher:
    """Watches `root` and calls `on_changes` (on the event loop thread) with batches of changes.

    Ignores `.git`, `.counterpoint`, `node_modules`, virtual environments, `__pycache__`, the root
    `.gitignore` patterns and `extra_ignores` (gitignore-style). Each new file is reported as
    `added` once, whether the watcher saw it or the rescan of its new folder found it.
    """

    def __init__(
        self,
        root: Path,
        on_changes: Callable[[list[FileChange]], None],
        *,
        extra_ignores: Sequence[str] = (),
        step_ms: int = DEFAULT_STEP_MS,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
    ) -> None:
        self.root = Path(os.path.realpath(root))
        self._root = str(self.root)
        self.rules = IgnoreRules(self.root, extra_ignores)
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self._on_changes = on_changes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._closed = False
        self._lock = threading.Lock()
        self._loops: list[WatchLoop] = []
        self._retired: list[WatchLoop] = []  # stopped, to be joined
        self._generation = 0
        self._flat: set[str] = set()  # folders watched alone
        self._recursive: set[str] = set()  # folders watched with everything below
        self._own = 0  # loops added for folders made in the run, since the last plan
        self._replanning = False
        self._replan_again = False
        self._replans = 0
        self._planner: threading.Thread | None = None
        self._reported: dict[str, None] = {}  # insertion-ordered, bounded: REPORTED_LIMIT
        self.raw_events = 0
        """Raw events received from the Rust side (how much work the watcher was given)."""

    @property
    def replans(self) -> int:
        """How many times the watch plan was made again during the run."""
        return self._replans

    def watched(self) -> tuple[set[str], set[str]]:
        """(folders watched alone, folders watched recursively), for tests and benchmarks."""
        with self._lock:
            return set(self._flat), set(self._recursive)

    async def start(self) -> None:
        """Start watching; returns once the watches are active (at once after `stop`)."""
        if self._running or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        try:
            await asyncio.to_thread(lambda: self._install(plan_watches(self.rules, self._root), 0))
        except BaseException:
            await self.stop()
            raise

    def _install(self, plan: WatchPlan, generation: int) -> list[WatchLoop]:
        """Make and start the loops of `plan`; those of older generations are returned (to stop)."""
        made = [
            WatchLoop(
                self._process,
                paths,
                recursive=recursive,
                name=name,
                step_ms=self.step_ms,
                debounce_ms=self.debounce_ms,
                generation=generation,
            )
            for paths, recursive, name in (
                (plan.flat, False, "flat"),
                (plan.recursive, True, "tree"),
            )
            if paths
        ]
        with self._lock:
            if not self._running:
                for watch_loop in made:
                    watch_loop.discard()
                return []
            else:
                old = [w for w in self._loops if w.generation < generation]
                keep = [w for w in self._loops if w.generation >= generation]
                self._loops = made + keep
                self._flat = set(plan.flat)
                self._recursive = set(plan.recursive).union(*(w.paths for w in keep if w.recursive))
                self._own = len(keep)
                for watch_loop in made:
                    watch_loop.start()
        log.debug("watching %s: %d alone, %d recursive", self._root, len(plan.flat), len(plan.recursive))
        return old

    async def stop(self) -> None:
        """Stop watching and join the watch threads. Safe to call more than once."""
        with self._lock:
            self._running = False
            self._closed = True
            loops, self._loops = self._loops + self._retired, []
            self._retired = []
            planner = self._planner
        for watch_loop in loops:
            watch_loop.request_stop()

        def join_all() -> None:
            for watch_loop in loops:
                watch_loop.join()
            if planner is not None:
                planner.join()

        await asyncio.to_thread(join_all)

    # ---- worker-thread side -------------------------------------------------------------

    def _process(self, raw: set[tuple[int, str]]) -> None:
        """Turn one raw batch into FileChanges (runs in a watch thread; may block)."""
        self.raw_events += len(raw)
        rules = self.rules
        codes_by_path: dict[str, set[int]] = {}
        for code, path in raw:
            parent = os.path.dirname(path)
            if parent != path and rules.dir_ignored(parent):
                continue  # inside an ignored folder: one look-up, no disk access
            codes_by_path.setdefault(path, set()).add(code)
        changes: list[FileChange] = []
        new_dirs: list[str] = []
        replan = False
        for path, codes in codes_by_path.items():
            if path == self._root:
                continue
            kind = _collapse(path, codes)
            parent, name = os.path.split(path)
            if parent == self._root and name == ".gitignore":
                rules.reload_gitignore()
                replan = True
            if name == "pyvenv.cfg" and kind != "deleted":
                rules.note_venv(Path(parent))
                replan = True
            if kind == "deleted":
                self._forget_dir(path)
                if not rules.is_ignored(path, is_dir=False):
                    with self._lock:
                        self._reported.pop(path, None)
                    changes.append(FileChange(Path(path), "deleted"))
                continue
            is_dir = os.path.isdir(path)
            if is_dir:
                if rules.dir_ignored(path):
                    replan = replan or (kind == "added" and self._in_recursive(parent))
                elif kind == "added":
                    new_dirs.append(path)
                continue
            if name in IGNORED_DIR_NAMES or rules.is_ignored(path, is_dir=False):
                continue
            with self._lock:
                if kind == "added" and path in self._reported:
                    kind = "modified"
                _remember(self._reported, path)
            changes.append(FileChange(Path(path), kind))
        self._deliver(changes)
        if new_dirs:
            replan = self._on_new_dirs(new_dirs) or replan
        if replan:
            self._request_replan()

    def _in_recursive(self, directory: str) -> bool:
        """Whether `directory` is under (or is) a folder watched recursively."""
        with self._lock:
            return _under(directory, self._root, self._recursive)

    def _forget_dir(self, path: str) -> None:
        """A folder was deleted: it (and what was below) is no longer watched; a folder made
        again there gets a watch anew. Its own loop, if any, is stopped."""
        prefix = os.path.join(path, "")
        with self._lock:
            if path not in self._flat and path not in self._recursive:
                return
            self._flat = {d for d in self._flat if d != path and not d.startswith(prefix)}
            self._recursive = {d for d in self._recursive if d != path and not d.startswith(prefix)}
            own = [w for w in self._loops if w.own and w.paths == [path]]
            self._loops = [w for w in self._loops if w not in own]
            self._retired.extend(own)
        for watch_loop in own:
            watch_loop.request_stop()

    def _on_new_dirs(self, directories: list[str]) -> bool:
        """Watch the new folders not covered yet (one recursive loop), then rescan each of them
        for files the watches missed. True when the plan should be made again."""
        replan = False
        with self._lock:
            running = self._running
            uncovered = [
                d for d in directories if running and not _covered(d, self._root, self._flat, self._recursive)
            ]
        uncovered = [d for d in uncovered if not any(d.startswith(os.path.join(o, "")) for o in uncovered)]
        if uncovered:
            try:
                watch_loop = WatchLoop(
                    self._process,
                    uncovered,
                    recursive=True,
                    name="new",
                    step_ms=self.step_ms,
                    debounce_ms=self.debounce_ms,
                    generation=self._generation,
                    own=True,
                )
            except (OSError, RuntimeError):
                log.debug("new folders vanished before they could be watched: %s", uncovered)
                watch_loop = None
            if watch_loop is not None:
                with self._lock:
                    running = self._running
                    if running:
                        self._loops.append(watch_loop)
                        self._recursive.update(uncovered)
                        self._own += 1
                        replan = self._own > MAX_OWN_WATCHES
                        watch_loop.start()
                if not running:
                    watch_loop.discard()
                    return False
        found: list[FileChange] = []
        for directory in directories:
            pruned: list[str] = []
            for current, names in self.rules.walk(directory, on_pruned=pruned.append):
                for name in names:
                    key = os.path.join(current, name)
                    if not os.path.isfile(key):
                        continue
                    with self._lock:
                        if key in self._reported:
                            continue
                        _remember(self._reported, key)
                    found.append(FileChange(Path(key), "added"))
            replan = replan or (bool(pruned) and self._in_recursive(directory))
        self._deliver(found)
        return replan

    def _request_replan(self) -> None:
        with self._lock:
            if not self._running:
                return
            if self._replanning:
                self._replan_again = True
                return
            self._replanning = True
            self._planner = threading.Thread(target=self._replan, name="counterpoint-watch-plan", daemon=True)
            self._planner.start()

    def _replan(self) -> None:
        """Make the plan again and swap it in (background thread); old watches stop once the
        new ones are active, so no change falls between them."""
        try:
            while True:
                with self._lock:
                    self._replan_again = False
                    self._generation += 1
                    generation = self._generation
                old = self._install(plan_watches(self.rules, self._root), generation)
                for watch_loop in old:
                    watch_loop.request_stop()
                with self._lock:
                    self._retired = [w for w in self._retired if w.alive] + old
                self._replans += 1
                with self._lock:
                    if not self._replan_again or not self._running:
                        self._replanning = False
                        return
        except Exception:
            log.warning("making the watch plan again failed", exc_info=True)
            with self._lock:
                self._replanning = False

    def _deliver(self, changes: list[FileChange]) -> None:
        loop = self._loop
        if not changes or not self._running or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed under us
            loop.call_soon_threadsafe(self._call_back, changes)

    def _call_back(self, changes: list[FileChange]) -> None:
        if not self._running:
            return
        try:
            self._on_changes(changes)
        except Exception:
            log.exception("on_changes callback failed")

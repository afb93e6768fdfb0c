"""Workspace watching while a run is live: file events in, spec signals out.

`WorkspaceWatcher` drives watchfiles' Rust notify backend (`RustNotify`) from threads of its own:
one watch on the workspace root (not recursive) plus one recursive watch over the non-ignored
top-level folders, and a new recursive watch for each top-level folder created during the run.
Ignored trees (`node_modules`, `.venv`, ...) at the top level therefore never reach the Rust
side, so a burst of thousands of files there cannot delay anything. Folders created during the
run are rescanned, since inotify misses files written before the folder's own watch exists.

`ContentTracker` remembers content hashes so a signal fires only for real content changes;
`FileSignalSource` glues both to a spec's signal globs (`SignalMatcher`, in `ignore.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from watchfiles._rust_notify import RustNotify

from counterpoint.engine.ignore import IgnoreRules, SignalMatcher

log = logging.getLogger(__name__)

ChangeKind = Literal["added", "modified", "deleted"]
_KIND_BY_CODE: dict[int, ChangeKind] = {1: "added", 2: "modified", 3: "deleted"}

DEFAULT_STEP_MS = 5
"""Rust-side poll step: a lone change is delivered after 1-2 steps of quiet."""
DEFAULT_DEBOUNCE_MS = 20
"""Longest a batch is held while changes keep coming (e.g. a burst in a nested ignored folder)."""


@dataclass(frozen=True)
class FileChange:
    """One change to one path (absolute). Deletions may name folders; other kinds are files."""

    path: Path
    kind: ChangeKind


class _WatchLoop:
    """One `RustNotify` instance and the thread that drains it into the watcher."""

    def __init__(self, watcher: WorkspaceWatcher, paths: list[str], *, recursive: bool, name: str) -> None:
        self._watcher = watcher
        self.paths = paths
        self._stop = threading.Event()
        # Watches are active once the constructor returns (events are buffered until watch()).
        self._notify = RustNotify(paths, False, False, 50, recursive, True)
        self._thread = threading.Thread(target=self._run, name=f"counterpoint-watch-{name}")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        watcher = self._watcher
        try:
            while not self._stop.is_set():
                result = self._notify.watch(watcher.debounce_ms, watcher.step_ms, 0, self._stop)
                if isinstance(result, str):
                    continue  # "stop" (loop condition ends it), "signal" or "timeout"
                watcher._process(result)
        except Exception:
            if not self._stop.is_set():
                log.warning("watch on %s ended", self.paths, exc_info=True)
        finally:
            self._notify.close()

    def discard(self) -> None:
        """Release a loop that was never started."""
        self._notify.close()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()


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
        self.rules = IgnoreRules(self.root, extra_ignores)
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self._on_changes = on_changes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._lock = threading.Lock()
        self._watch_loops: list[_WatchLoop] = []
        self._watched_top: set[str] = set()  # top-level folder names under a recursive watch
        self._dedicated: dict[str, _WatchLoop] = {}  # watches added for folders made in the run
        self._reported: set[str] = set()  # files reported as existing (for "added" once each)

    async def start(self) -> None:
        """Start watching; returns once the watches are active."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        try:
            await asyncio.to_thread(self._start_blocking)
        except BaseException:
            await self.stop()
            raise

    def _start_blocking(self) -> None:
        root_loop = _WatchLoop(self, [str(self.root)], recursive=False, name="root")
        with self._lock:
            self._watch_loops.append(root_loop)
        top_dirs: list[str] = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and not self.rules.is_ignored(entry.path, is_dir=True):
                    top_dirs.append(entry.path)
        if top_dirs:
            tree_loop = _WatchLoop(self, top_dirs, recursive=True, name="tree")
            with self._lock:
                self._watch_loops.append(tree_loop)
                self._watched_top.update(os.path.basename(d) for d in top_dirs)
        for watch_loop in list(self._watch_loops):
            watch_loop.start()
        log.debug("watching %s (%d top-level folders)", self.root, len(top_dirs))

    async def stop(self) -> None:
        """Stop watching and join the watch threads. Safe to call more than once."""
        self._running = False
        with self._lock:
            loops, self._watch_loops = self._watch_loops, []
            self._dedicated.clear()
        for watch_loop in loops:
            watch_loop.request_stop()
        if loops:

            def join_all() -> None:
                for watch_loop in loops:
                    watch_loop.join()

            await asyncio.to_thread(join_all)

    # ---- worker-thread side -------------------------------------------------------------

    def _process(self, raw: set[tuple[int, str]]) -> None:
        """Turn one raw batch into FileChanges (runs in a watch thread; may block)."""
        codes_by_path: dict[str, set[int]] = {}
        for code, path in raw:
            codes_by_path.setdefault(path, set()).add(code)
        root = str(self.root)
        changes: list[FileChange] = []
        new_dirs: list[str] = []
        for path, codes in codes_by_path.items():
            if path == root:
                continue
            kind = self._collapse(path, codes)
            parent, name = os.path.split(path)
            if parent == root and name == ".gitignore":
                self.rules.reload_gitignore()
            if name == "pyvenv.cfg" and kind != "deleted":
                self.rules.note_venv(Path(parent))
            if kind == "deleted":
                if parent == root:
                    self._forget_top_dir(name)
                if not self.rules.is_ignored(path, is_dir=False):
                    with self._lock:
                        self._reported.discard(path)
                    changes.append(FileChange(Path(path), "deleted"))
                continue
            is_dir = os.path.isdir(path)
            if self.rules.is_ignored(path, is_dir=is_dir):
                continue
            if is_dir:
                if kind == "added":
                    new_dirs.append(path)
                continue
            with self._lock:
                if kind == "added" and path in self._reported:
                    kind = "modified"
                self._reported.add(path)
            changes.append(FileChange(Path(path), kind))
        self._deliver(changes)
        for directory in new_dirs:
            self._on_new_dir(directory)

    @staticmethod
    def _collapse(path: str, codes: set[int]) -> ChangeKind:
        """One kind per path; when a batch holds several, the disk decides."""
        if len(codes) == 1:
            return _KIND_BY_CODE.get(next(iter(codes)), "modified")
        if not os.path.lexists(path):
            return "deleted"
        return "added" if 1 in codes else "modified"

    def _forget_top_dir(self, name: str) -> None:
        with self._lock:
            self._watched_top.discard(name)
            dedicated = self._dedicated.pop(name, None)
        if dedicated is not None:
            dedicated.request_stop()

    def _on_new_dir(self, directory: str) -> None:
        """Watch a new top-level folder, then rescan the new folder for files the watch missed."""
        parent, name = os.path.split(directory)
        if parent == str(self.root):
            with self._lock:
                needs_watch = self._running and name not in self._watched_top
                if needs_watch:
                    self._watched_top.add(name)
            if needs_watch:
                try:
                    watch_loop = _WatchLoop(self, [directory], recursive=True, name=name)
                except (OSError, RuntimeError):
                    log.debug("folder %s vanished before it could be watched", directory)
                    with self._lock:
                        self._watched_top.discard(name)
                    return
                with self._lock:
                    running = self._running
                    if running:
                        self._watch_loops.append(watch_loop)
                        self._dedicated[name] = watch_loop
                        watch_loop.start()
                if not running:
                    watch_loop.discard()
                    return
        found: list[FileChange] = []
        for file in self.rules.walk_files(Path(directory)):
            key = str(file)
            with self._lock:
                if key in self._reported:
                    continue
                self._reported.add(key)
            found.append(FileChange(file, "added"))
        self._deliver(found)

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


def _digest(path: Path) -> bytes | None:
    """BLAKE2b of the file's bytes, or None when it is not a readable file."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "blake2b").digest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


class ContentTracker:
    """Remembers a hash of each tracked file so only real content changes count."""

    def __init__(self) -> None:
        self._digests: dict[Path, bytes] = {}

    async def prime(self, paths: Iterable[Path]) -> None:
        """Record the current content of `paths` (files existing when the run starts)."""
        paths = list(paths)

        def hash_all() -> dict[Path, bytes]:
            return {p: d for p in paths if (d := _digest(p)) is not None}

        self._digests.update(await asyncio.to_thread(hash_all))

    async def changed(self, path: Path) -> bool:
        """True if `path` now exists with content different from what was last seen."""
        digest = await asyncio.to_thread(_digest, path)
        if digest is None:
            self._digests.pop(path, None)
            return False
        previous = self._digests.get(path)
        self._digests[path] = digest
        return previous != digest

    def forget(self, path: Path) -> None:
        """Drop what is known about `path` (it was deleted)."""
        self._digests.pop(path, None)


class FileSignalSource:
    """Fires spec signals from file events: `fire(name, {"path": ..., "kind": ...})`.

    `path` in the metadata is relative to the workspace root, POSIX style. A signal fires once
    per distinct content of a matching file (created, or changed to different bytes).
    """

    def __init__(
        self,
        root: Path,
        spec_dir: Path,
        signals: dict[str, list[str]],
        fire: Callable[[str, dict[str, Any]], None],
        extra_ignores: Sequence[str] = (),
    ) -> None:
        self.matcher = SignalMatcher(spec_dir, signals)
        self.tracker = ContentTracker()
        self.watcher = WorkspaceWatcher(root, self._on_changes, extra_ignores=extra_ignores)
        self._fire = fire
        self._listeners: list[Callable[[list[FileChange]], None]] = []
        self._queue: asyncio.Queue[list[FileChange]] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self._batches = 0
        self._queued = 0
        self._handled = 0

    def add_listener(self, callback: Callable[[list[FileChange]], None]) -> None:
        """Also hand every raw batch of changes to `callback` (on the event loop thread)."""
        self._listeners.append(callback)

    async def start(self) -> None:
        """Prime content hashes of existing matching files, then start watching."""
        spec_dir = self.matcher.spec_dir
        if self.matcher.signal_names and spec_dir.is_dir():
            existing = await asyncio.to_thread(self.watcher.rules.walk_files, spec_dir)
            await self.tracker.prime(self.matcher.matches_any(existing))
        self._consumer = asyncio.create_task(self._consume(), name="counterpoint-file-signals")
        try:
            await self.watcher.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop watching and firing. Safe to call more than once."""
        await self.watcher.stop()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer

    async def settle(self, quiet: float = 0.15, limit: float = 10.0) -> None:
        """Wait until every change seen has fired its signals and no change came for ``quiet``
        seconds (a file written just now may still be on its way from the OS), at most ``limit``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            seen = self._batches
            await asyncio.sleep(quiet)
            if self._batches == seen and self._handled == self._queued:
                return

    def _on_changes(self, changes: list[FileChange]) -> None:
        self._batches += 1
        for listener in self._listeners:
            try:
                listener(changes)
            except Exception:
                log.exception("file change listener failed")
        relevant: list[FileChange] = []
        for change in changes:
            if change.kind == "deleted":
                self.tracker.forget(change.path)
            elif self.matcher.match(change.path):
                relevant.append(change)
        if relevant:
            self._queued += 1
            self._queue.put_nowait(relevant)

    async def _consume(self) -> None:
        root = self.watcher.root
        while True:
            batch = await self._queue.get()
            try:
                for change in batch:
                    if not await self.tracker.changed(change.path):
                        continue
                    rel = change.path.relative_to(root).as_posix()
                    for name in self.matcher.match(change.path):
                        try:
                            self._fire(name, {"path": rel, "kind": change.kind})
                        except Exception:
                            log.exception("firing signal %s failed", name)
            finally:
                self._handled += 1

"""Spec signals from file events: `FileSignalSource` glues the watcher to a spec's signal globs.

A signal fires once per distinct content of a matching file: created, or changed to different
bytes (`ContentTracker` keeps a hash of each matching file). Watching starts in the background so
that agents needing nothing start at once, whatever the size of the workspace: `begin` takes a
*stamp* in the filesystem's own clock (a few ms) before any agent starts, and returns; the watches
are then set up and a catch-up scan of the folders the globs can match (their literal leading
folders only) hashes the matching files older than the stamp (what the run started with) and
reports those written since (written while the watches were being set up, before any event could
be seen) as changed. Events seen meanwhile wait until the scan is done, so every file written
after the stamp fires its signal exactly once, whichever of the scan and the event sees it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from counterpoint.engine.watch.ignore import SignalMatcher
from counterpoint.engine.watch.watcher import FileChange, WorkspaceWatcher

log = logging.getLogger(__name__)

STAMP_SPIN_S = 0.05
"""Longest `take_stamp` waits for the filesystem clock to move on."""
FALLBACK_STAMP_NS = 50_000_000
"""When no stamp file can be written: files changed this long before the run count as new."""


def take_stamp(root: Path) -> int:
    """A time (ns, the filesystem's clock) such that files written before this call have an
    older mtime and files written after it do not: a stamp file's mtime, once that clock has
    moved past the first one it gave (a clock tick at most). Blocking; run it in a thread."""
    try:
        folder = root / ".counterpoint"
        folder.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="watch-stamp-", dir=folder)
    except OSError:
        return time.time_ns() - FALLBACK_STAMP_NS
    try:
        first = os.fstat(fd).st_mtime_ns
        deadline = time.monotonic() + STAMP_SPIN_S
        while time.monotonic() < deadline:
            os.utime(fd)
            now = os.fstat(fd).st_mtime_ns
            if now > first:
                return now
            time.sleep(0.0002)
        return first  # a coarse clock: files of the same tick count as new, none is missed
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)


def _digest(path: Path | str) -> bytes | None:
    """BLAKE2b (16 bytes) of the file's bytes, or None when it is not a readable file."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).digest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


class ContentTracker:
    """Remembers a hash of each tracked file (by path string) so only real content changes count."""

    def __init__(self) -> None:
        self._digests: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._digests)

    async def prime(self, paths: Iterable[Path]) -> None:
        """Record the current content of `paths` (files existing when the run starts)."""
        keys = [str(p) for p in paths]

        def hash_all() -> dict[str, bytes]:
            return {p: d for p in keys if (d := _digest(p)) is not None}

        self._digests.update(await asyncio.to_thread(hash_all))

    def record(self, digests: dict[str, bytes]) -> None:
        """Record known hashes (from the catch-up scan)."""
        self._digests.update(digests)

    async def changed(self, path: Path) -> bool:
        """True if `path` now exists with content different from what was last seen."""
        key = str(path)
        digest = await asyncio.to_thread(_digest, key)
        if digest is None:
            self._digests.pop(key, None)
            return False
        previous = self._digests.get(key)
        self._digests[key] = digest
        return previous != digest

    def forget(self, path: Path) -> None:
        """Drop what is known about `path` (it was deleted)."""
        self._digests.pop(str(path), None)


class FileSignalSource:
    """Fires spec signals from file events: `fire(name, {"path": ..., "kind": ...})`.

    `path` in the metadata is relative to the workspace root, POSIX style. A file written after
    `begin` but before the watches were active is reported with kind `added`.
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
        self._starting: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopped = False
        self._stamp = 0
        self._batches = 0
        self._queued = 0
        self._handled = 0

    def add_listener(self, callback: Callable[[list[FileChange]], None]) -> None:
        """Also hand every raw batch of changes to `callback` (on the event loop thread)."""
        self._listeners.append(callback)

    async def begin(self) -> None:
        """Take the start stamp, then start watching in the background (see `ready`)."""
        if self._starting is not None:
            return
        self._stamp = await asyncio.to_thread(take_stamp, self.watcher.root)
        self._consumer = asyncio.create_task(self._consume(), name="counterpoint-file-signals")
        self._starting = asyncio.create_task(self._start_watching(), name="counterpoint-watch-start")

    async def ready(self) -> None:
        """Wait until the watches are active and the catch-up scan is done; raises what failed."""
        if self._starting is not None:
            await asyncio.shield(self._starting)

    async def start(self) -> None:
        """`begin`, then wait until `ready` (stopping again if starting failed)."""
        try:
            await self.begin()
            await self.ready()
        except BaseException:
            await self.stop()
            raise

    async def _start_watching(self) -> None:
        try:
            await self.watcher.start()
            if self._stopped:
                return
            digests, found = await asyncio.to_thread(self._scan)
            self.tracker.record(digests)
            if found and not self._stopped:
                self._on_changes(found)
        except Exception:
            if not self._stopped:
                log.warning("watching %s failed: file signals will not fire", self.watcher.root)
                raise
        finally:
            self._ready.set()

    def _scan(self) -> tuple[dict[str, bytes], list[FileChange]]:
        """Hash the matching files older than the stamp; list those changed since (blocking)."""
        rules = self.watcher.rules
        matcher = self.matcher
        spec_prefix = os.path.join(str(matcher.spec_dir), "")
        digests: dict[str, bytes] = {}
        found: list[FileChange] = []
        seen: set[str] = set()

        def consider(full: str) -> None:
            if full in seen or not full.startswith(spec_prefix):
                return
            seen.add(full)
            if not matcher.matches_relative(full[len(spec_prefix) :].replace(os.sep, "/")):
                return
            folder, name = os.path.split(full)
            if rules.file_ignored(folder, name):
                return
            try:
                before = os.stat(full)
            except OSError:
                return
            if not stat.S_ISREG(before.st_mode):
                return
            if before.st_mtime_ns < self._stamp:
                digest = _digest(full)
                with contextlib.suppress(OSError):
                    after = os.stat(full)
                    if digest is not None and _same(before, after):
                        digests[full] = digest
                        return
            found.append(FileChange(Path(full), "added"))

        files, folders = matcher.scan_targets()
        for file in files:
            if not self._stopped and not rules.dir_ignored(str(file.parent)):
                consider(str(file))
        for folder, depth in folders:
            for current, names in rules.walk(folder, max_depth=depth, check_files=False):
                if self._stopped:
                    return digests, found
                for name in names:
                    consider(os.path.join(current, name))
        return digests, found

    async def stop(self) -> None:
        """Stop watching and firing. Safe to call more than once."""
        self._stopped = True
        await self.watcher.stop()
        starting, self._starting = self._starting, None
        if starting is not None:
            with contextlib.suppress(Exception):
                await starting
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer

    async def settle(self, quiet: float = 0.15, limit: float = 10.0) -> None:
        """Wait until watching is ready, every change seen has fired its signals and no change
        came for ``quiet`` seconds (a file written just now may still be on its way from the
        OS), at most ``limit`` seconds after ready."""
        await self._ready.wait()
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
        await self._ready.wait()  # the catch-up scan knows what the run started with
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


def _same(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_mtime_ns, before.st_size, before.st_ino) == (
        after.st_mtime_ns,
        after.st_size,
        after.st_ino,
    )

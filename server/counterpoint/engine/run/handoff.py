"""`SignalHandOff`: work handed on at signals, in an isolated run.

File signals are watched in every live working copy. When an agent's change fires a signal (or
the agent emits one), its copy is committed first as a snapshot on its branch and the signal
carries that commit (``commit``, ``by``): agents that need the signal start from a tree that
holds it, and the integration copy shows it. Signals the watcher had not reported when an agent
ended are found in its final snapshot, so no race with the watcher decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import EventType

from counterpoint.engine.isolation import IsolationError, Repo, WorkingCopies, git
from counterpoint.engine.run.place import AgentPlace

if TYPE_CHECKING:
    from counterpoint.engine.run.integration import Integration
    from counterpoint.engine.run.view import Emit

log = logging.getLogger(__name__)


class SignalHandOff:
    """Which snapshot each signal handed on, and the watchers of the live copies."""

    def __init__(
        self,
        *,
        repo: Repo,
        copies: WorkingCopies,
        integration: Integration,
        signals: Mapping[str, list[str]],
        emit: Emit,
        fire: Callable[[str, dict[str, Any], str | None], bool],
        changed: Callable[[str], None],
        places: Mapping[str, AgentPlace],
        restored: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.repo = repo
        self.copies = copies
        self.integration = integration
        self._signals = dict(signals)
        self._emit = emit
        self._fire = fire
        self._changed = changed
        self._places = places
        self.commits: dict[str, str] = {}
        """Signal -> the snapshot it handed on (resumed: from the earlier run's signal events)."""
        for signal, meta in (restored or {}).items():
            if isinstance(meta.get("commit"), str):
                self.commits[signal] = meta["commit"]
        self._tasks: set[asyncio.Task[None]] = set()

    def needed(self, needs: list[str]) -> list[tuple[str, str]]:
        """(signal, commit) of the handed-on signals among ``needs``."""
        return [(name, commit) for name, commit in self.commits.items() if name in needs]

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def watch(self, name: str, place: AgentPlace) -> None:
        """Watch ``name``'s copy: file signals (with a snapshot) and changes (for predictions)."""
        from counterpoint.engine.watch import FileSignalSource

        def fire_file(signal: str, metadata: dict[str, Any]) -> None:
            meta = {**metadata, "attribution": "copy"}
            self._spawn(self.fire_with_snapshot(name, signal, meta), f"snapshot {name} {signal}")

        source = FileSignalSource(place.root, place.spec_dir, self._signals, fire_file)
        source.add_listener(lambda changes: self._changed(name))
        place.source = source
        await source.begin()

        async def look_once_ready() -> None:  # what it wrote before the watches were on
            with contextlib.suppress(Exception):
                await source.ready()
            self._changed(name)

        self._spawn(look_once_ready(), f"watch {name}")

    async def unwatch(self, place: AgentPlace) -> None:
        if place.source is not None:
            try:
                await place.source.stop()
            except Exception:
                log.exception("stopping a copy's watcher failed")
            place.source = None

    async def fire_with_snapshot(self, name: str, signal: str, metadata: dict[str, Any]) -> None:
        """Commit the agent's copy, then fire ``signal`` carrying that commit."""
        place = self._places.get(name)
        if place is None or signal in self.commits:
            self._fire(signal, metadata, name)
            return
        try:
            snap = await self.copies.snapshot(place.copy, f"{name}: {signal}")
        except IsolationError as exc:
            log.warning("snapshot of %s at %s failed: %s", name, signal, exc)
            self._fire(signal, metadata, name)
            return
        commit = snap.commit if snap is not None else place.copy.last_snapshot
        await self.hand_on(name, signal, metadata, commit, snap.files if snap is not None else None)

    async def hand_on(
        self, name: str, signal: str, metadata: dict[str, Any], commit: str, files: list[str] | None
    ) -> None:
        """``signal`` fired by ``name`` with ``commit`` (``files``: its snapshot's; None: no new one)."""
        if signal in self.commits:
            self._fire(signal, metadata, name)
            return
        if files is not None:
            self._emit(EventType.SNAPSHOT, name, signal, commit=commit, signal=signal, files=files)
        self.commits[signal] = commit
        await self.integration.hand_on(name, commit)
        self._fire(signal, {**metadata, "by": name, "commit": commit}, name)

    async def fire_missed(self, name: str, place: AgentPlace, head: str) -> None:
        """File signals its last writes fire that the watcher had not reported when it ended:
        its work (the final snapshot) decides, not the race with the watcher."""
        from counterpoint.engine.watch import SignalMatcher

        changed = await git(
            self.repo, "diff", "--name-only", "-z", "--no-renames", place.copy.start_commit, head
        )
        matcher = SignalMatcher(place.spec_dir, self._signals)
        for rel in filter(None, changed.stdout.split("\0")):
            path = place.copy.path / rel
            for signal in matcher.match(path):
                if signal not in self.commits and path.is_relative_to(place.root):
                    self.commits[signal] = head
                    meta = {"path": path.relative_to(place.root).as_posix(), "kind": "added"}
                    self._fire(signal, {**meta, "by": name, "attribution": "copy", "commit": head}, name)

    async def close(self) -> None:
        """Stop every watcher and pending snapshot."""
        for place in self._places.values():
            await self.unwatch(place)
        for task in list(self._tasks):
            task.cancel()

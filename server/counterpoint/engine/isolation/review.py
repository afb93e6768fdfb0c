"""Review an isolated run: what it changed (one agent's work, or the whole run against its base),
bring it into the user's working tree, or throw it away; the Engine's door to it (`RunReview`).

The run is read from its events (`review_changes.run_isolation`), the changes from git
(`review_changes`); applying and discarding are in `review_apply`. A run still live is neither
applied nor discarded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from counterpoint_protocol.events import Event
from counterpoint_protocol.messages import ApplyResult, DiffResult, DiscardResult, ShowFileResult

from counterpoint.engine.isolation import IsolationError, Repo, open_repo
from counterpoint.engine.isolation.review_apply import apply, discard
from counterpoint.engine.isolation.review_changes import (
    ISOLATION_EVENTS,
    AgentChanges,
    IsolationInfo,
    ReviewRefused,
    diff,
    run_isolation,
    show_file,
)
from counterpoint.engine.workspace import STATE_DIR

__all__ = ["AgentChanges", "IsolationInfo", "ReviewRefused", "RunReview", "run_isolation"]
_R = TypeVar("_R")
Query = Callable[..., Awaitable[list[Event]]]
"""The event log's query: ``query(run_id, type)`` -> the run's events of that type, in id order."""
Live = Callable[[str, int | None], bool]
"""Whether run ``run_id`` (its last segment started by process ``pid``, not ended) is still live."""


class RunReview:
    """The isolated runs of one workspace, for the faces. Every refusal (no such run, not
    isolated, live, not a git repository, a conflict with the working tree) is one ``refused``
    exception with a line that says what to do."""

    def __init__(
        self, root: Path, query: Query, live: Live, refused: type[Exception] = ReviewRefused
    ) -> None:
        self.root = root
        self._query = query
        self._live = live
        self._refused = refused

    async def info(self, run_id: str) -> IsolationInfo:
        """The run as its events tell it."""
        found = [event for kind in ISOLATION_EVENTS for event in await self._query(run_id, kind)]
        if not found:
            raise self._refused(f"no such run: {run_id}")
        try:
            return run_isolation(sorted(found, key=lambda event: event.id))
        except IsolationError as exc:
            raise self._refused(str(exc)) from exc

    def live(self, info: IsolationInfo) -> bool:
        return self._live(info.run_id, None if info.finished else info.pid)

    async def diff(self, run_id: str, agent: str | None = None, *, patch: bool = False) -> DiffResult:
        """What one agent changed (its start commit -> its branch), or the run (base -> integration)."""
        return await self._do(run_id, lambda repo, info: diff(repo, info, agent, patch))

    async def apply(self, run_id: str) -> ApplyResult:
        """The ended run's changes written into the working tree (the index and HEAD untouched)."""
        return await self._do(run_id, apply, refuse_live="apply it")

    async def discard(self, run_id: str) -> DiscardResult:
        """The ended run's branches, refs and working copies deleted."""
        state_dir = self.root / STATE_DIR
        return await self._do(
            run_id, lambda repo, info: discard(repo, info, state_dir), refuse_live="discard it"
        )

    async def show_file(self, run_id: str, commit: str, path: str) -> ShowFileResult:
        """A file of the repository at a commit (of this run: its base, a start, a tip)."""
        return await self._do(run_id, lambda repo, _info: show_file(repo, commit, path))

    async def _do(
        self, run_id: str, work: Callable[[Repo, IsolationInfo], Awaitable[_R]], *, refuse_live: str = ""
    ) -> _R:
        info = await self.info(run_id)
        if refuse_live and self.live(info):
            raise self._refused(
                f"run {run_id} is still live: wait for it to end (or cancel it), then {refuse_live}"
            )
        try:
            return await work(await open_repo(self.root), info)
        except IsolationError as exc:
            raise self._refused(str(exc)) from exc

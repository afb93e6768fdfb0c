"""What the executors share: their names, their one error, and what the run offers a remote agent.

An agent on another machine works in a copy of its own; the run's isolation (its base, branches,
signals and merges) is on the coordinator. `RemoteWork` is the part of it a remote attempt
uses: where the agent starts, a signal it fires with the snapshot that came back, its work merged.
"""

from __future__ import annotations

from typing import Any, Protocol

EXECUTORS = ("local", "ray")
MOVES = 2
"""How often an agent starts again on another node when its node dies, in one attempt."""


class ExecutorError(Exception):
    """The executor cannot run agents (no Ray installed, no cluster reachable): one line, the fix."""


class RemoteWork(Protocol):
    """The run's isolation, as an agent running elsewhere needs it (`RunIsolation`)."""

    @property
    def repo(self) -> Any: ...

    @property
    def refs(self) -> Any: ...

    @property
    def root(self) -> Any: ...

    @property
    def spec_dir(self) -> Any: ...

    def isolated(self, agent: Any) -> bool: ...

    async def start_of(self, agent: Any) -> Any:
        """Where its next attempt starts (a `StartPoint`): the tip and its needs' snapshots."""

    async def hand_on_signal(
        self, name: str, signal: str, metadata: dict[str, Any], commit: str, files: list[str] | None
    ) -> None:
        """``signal`` fired by agent ``name`` carrying ``commit`` (on its branch already)."""

    async def merge_work(self, agent: Any, head: str) -> None:
        """Its work at ``head`` merged, as for a local copy (`MergeConflict` as ``on_conflict`` says)."""

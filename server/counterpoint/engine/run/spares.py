"""`Spares`: working copies made ahead of time for isolated agents about to become ready.

When an agent starts running, the agents waiting on it alone (on it, or on signals only it
emits) get a copy made now, from the integration tip; when they become ready, their copy only
moves to their start commit (``read-tree -m -u``: the few files that differ), so making a copy
(a worktree registered, an overlay mounted, an index) is off the run's critical path. A spare
nobody takes goes with the run's other copies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from counterpoint_protocol.events import AgentStatus

from counterpoint.engine.isolation import IsolationError, WorkingCopies, WorkingCopy
from counterpoint.engine.run.place import AgentPlace
from counterpoint.engine.run.state import AgentRuntime

log = logging.getLogger(__name__)


class Spares:
    """The copies being made ahead, by agent."""

    def __init__(
        self, copies: WorkingCopies, agents: Mapping[str, AgentRuntime], places: Mapping[str, AgentPlace]
    ) -> None:
        self._copies = copies
        self._agents = agents
        self._places = places
        self._making: dict[str, asyncio.Future[WorkingCopy]] = {}

    def for_followers_of(self, name: str, tip: str) -> None:
        """``name`` started running: a copy (at ``tip``) for each agent that waits on it alone."""
        releases = set(self._agents[name].spec.settings.emits) | {name}
        for other in self._agents.values():
            settings = other.spec.settings
            if (
                other.state == AgentStatus.WAITING
                and settings.isolation == "worktree"
                and not settings.integrate
                and settings.executor != "ray"  # its copy is made on its node
                and other.name not in self._making
                and other.name not in self._places
                and other.waiting_on
                and other.waiting_on <= releases
            ):
                task = asyncio.ensure_future(self._copies.create(other.name, tip))
                task.add_done_callback(lambda t: t.cancelled() or t.exception())  # seen in take
                self._making[other.name] = task

    async def take(self, name: str, start: str) -> WorkingCopy | None:
        """The copy made ahead for ``name``, moved to ``start``; None if there is none or it is
        of no use (then it is removed and the caller makes one)."""
        task = self._making.pop(name, None)
        if task is None:
            return None
        try:
            return await self._copies.move(await task, start)
        except IsolationError as exc:
            log.info("the copy made ahead for %s is of no use: %s", name, exc)
            if task.done() and not task.cancelled() and task.exception() is None:
                await self._copies.remove(task.result())
            return None

"""A run's agents on a Ray cluster (`RayAgents`): placed when they start, one actor an attempt.

When the scheduler starts an agent, `place` picks its node from the cluster view this process
keeps (no wait: ``agent_started`` names it); `attempt` then runs the attempt there
(`RemoteAttempt`): its copy made on the node from a bundle, its runner, its signals and output
streamed back; its work merged here, as an isolated agent's. A node that dies takes its agents
elsewhere (`MOVES` times at most an attempt).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from counterpoint.engine.executors.base import ExecutorError, RemoteWork
from counterpoint.engine.executors.ray_cluster import Node, RayCluster, connect, connected
from counterpoint.engine.executors.resources import ResourceError, Resources, parse_resources
from counterpoint.engine.runners.base import AgentContext, AgentFailed

if TYPE_CHECKING:
    from counterpoint.engine.run.state import AgentRuntime

_runs: weakref.WeakKeyDictionary[Any, RayAgents] = weakref.WeakKeyDictionary()
_joining: set[asyncio.Task[None]] = set()


async def _join() -> None:
    try:
        await connect()
    except ExecutorError:
        pass  # the agent's attempt says why
    finally:
        _joining.clear()


class RayAgents:
    """The agents of one run that run on Ray."""

    def __init__(self, work: RemoteWork) -> None:
        self.work = work
        self.placed: dict[str, tuple[Node, Resources]] = {}
        """Agent -> the node `place` chose for its next attempt (reserved there)."""
        self.shipped: dict[str, list[str]] = {}
        """Node id -> the start trees' commits its object store has (bundles leave them out)."""
        self.notes: dict[str, str] = {}
        """Agent -> why its last work did not merge (``on_conflict: restart``), for its task."""

    @classmethod
    def of(cls, work: RemoteWork) -> RayAgents:
        found = _runs.get(work)
        if found is None:
            found = _runs[work] = cls(work)
        return found

    def place(self, agent: AgentRuntime) -> dict[str, Any]:
        cluster = connected()
        if cluster is None:  # not joined yet (a language server's first run): join now, name it later
            if not _joining:
                _joining.add(asyncio.get_running_loop().create_task(_join()))
            return {}
        try:
            request = parse_resources(agent.spec.settings.resources)
        except ResourceError:
            return {}
        old = self.placed.pop(agent.name, None)
        if old is not None:
            cluster.release(old[0].id, old[1])
        node = cluster.reserve(request)
        if node is None:
            return {}
        self.placed[agent.name] = (node, request)
        return {"node": node.address, "node_id": node.id}

    async def attempt(self, agent: AgentRuntime, ctx: AgentContext) -> None:
        from counterpoint.engine.executors.ray_attempt import RemoteAttempt
        from counterpoint.engine.run.conflicts import MergeConflict

        try:
            cluster = await connect()
        except ExecutorError as exc:
            raise AgentFailed(str(exc)) from None
        try:
            request = parse_resources(agent.spec.settings.resources)
        except ResourceError as exc:
            raise AgentFailed(f"resources: {exc}") from None
        why = cluster.why_not(request)
        if why is not None:
            raise AgentFailed(f"resources {request.describe()}: {why}")
        node = self._take(agent.name, cluster, request)
        task = self.task_of(agent.name, ctx.task)
        attempt = RemoteAttempt(self.work, agent, ctx, cluster, request, shipped=self.shipped, task=task)
        try:
            await attempt.run(node)
        except MergeConflict as exc:
            if exc.restart:
                self.notes[agent.name] = exc.payload.message
            raise
        finally:
            cluster.release(attempt.node.id, request)

    def _take(self, name: str, cluster: RayCluster, request: Resources) -> Node:
        """The node placed for this attempt, or one chosen now (a retry, a restart)."""
        placed = self.placed.pop(name, None)
        if placed is not None and placed[1] == request and cluster.alive(placed[0].id):
            return placed[0]
        if placed is not None:
            cluster.release(placed[0].id, placed[1])
        node = cluster.reserve(request)
        if node is None:
            raise AgentFailed(f"resources {request.describe()}: {cluster.why_not(request)}")
        return node

    def task_of(self, name: str, task: str) -> str:
        note = self.notes.get(name)
        if not note:
            return task
        return f"{task}\n\nYour earlier work did not merge: {note}. It starts again on the merged work."

"""The Ray actor that runs agents' attempts on a node (`AgentActor`).

The coordinator makes it with ``ray.remote(AgentActor).options(...)`` (so this module imports
Ray only on a node, when the actor starts): one per node that agents share (an attempt starts as a
method call, in milliseconds), or one for an agent of its own when its secrets must be in its
process's environment. `run` is a streaming generator of an attempt's message batches, until its
``done``; `answer` replies to the attempt's asks, `cancel` ends it (its runner's process group is
killed as in a local run); `where` says which node this is. Attempts are keyed by the
coordinator's id for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from counterpoint.engine.executors import node_copy, node_guard
from counterpoint.engine.executors.job import NodeJob
from counterpoint.engine.executors.node_agent import NodeAgent

BATCH_S = 0.01
"""How long a batch waits for more messages once it has one (output comes in bursts)."""


class AgentActor:
    def __init__(self) -> None:
        self._agents: dict[str, NodeAgent] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._guard, self._mark = node_guard.start()  # its agents' processes die with it, however it dies

    async def where(self) -> dict[str, Any]:
        import ray

        from counterpoint import __version__

        context = ray.get_runtime_context()
        return {
            "node": ray.util.get_node_ip_address(),
            "node_id": context.get_node_id(),
            "pid": os.getpid(),
            "version": __version__,
        }

    async def run(self, key: str, job: NodeJob, data: bytes | None) -> AsyncIterator[list[dict[str, Any]]]:
        agent = self._agents[key] = NodeAgent(job, data, {node_guard.MARK: self._mark})
        task = self._tasks[key] = asyncio.get_running_loop().create_task(agent.run(), name=f"agent {key}")
        try:
            while True:
                batch = [await agent.messages.get()]
                await asyncio.sleep(BATCH_S)
                while not agent.messages.empty():
                    batch.append(agent.messages.get_nowait())
                if batch[-1]["kind"] == "done":  # nothing left here once the coordinator has it
                    await node_copy.remove_run(job.run_id)
                    yield batch
                    return
                yield batch
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                await node_copy.remove_run(job.run_id)
            self._agents.pop(key, None)
            self._tasks.pop(key, None)

    async def answer(self, key: str, ask: int, ok: bool, value: Any) -> None:
        if (agent := self._agents.get(key)) is not None:
            agent.answer(ask, ok, value)

    async def cancel(self, key: str) -> None:
        if (task := self._tasks.get(key)) is not None and not task.done():
            task.cancel()

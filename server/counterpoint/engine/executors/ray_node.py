"""The Ray actor that runs one agent's attempt on a node (`AgentActor`).

The coordinator makes it with ``ray.remote(AgentActor).options(...)`` (so this module imports
Ray only on a node, when the actor starts) and reads `run`, a streaming generator of message
batches, until its ``done``. `answer` replies to the node's asks, `cancel` ends the attempt (the
runner's process group is killed as in a local run); `where` says which node this is.
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
        self._agent: NodeAgent | None = None
        self._task: asyncio.Task[None] | None = None
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

    async def run(self, job: NodeJob, data: bytes | None) -> AsyncIterator[list[dict[str, Any]]]:
        agent = self._agent = NodeAgent(job, data, {node_guard.MARK: self._mark})
        self._task = asyncio.get_running_loop().create_task(agent.run(), name=f"agent {job.agent.name}")
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
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
                await node_copy.remove_run(job.run_id)

    async def answer(self, ask: int, ok: bool, value: Any) -> None:
        if self._agent is not None:
            self._agent.answer(ask, ok, value)

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

"""One agent's attempt on a node: its copy, its runner, its file signals, its messages.

Everything the agent does goes back to the coordinator as messages (plain dicts with a
``kind``) in the order it happened: ``copy``, ``began``, ``output``, ``record``, ``tool``,
``write``, ``signal`` (with the snapshot's bundle), ``ask`` (consent, a signal to wait for: the
coordinator answers through `NodeAgent.answer`), ``spend`` and, last, ``done``. The coordinator
alone writes the run's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from typing import Any

from counterpoint.engine.executors import node_copy
from counterpoint.engine.executors.bundles import bundle
from counterpoint.engine.executors.job import NodeJob
from counterpoint.engine.executors.node_copy import NodeCopy
from counterpoint.engine.run.budget import RunBudget
from counterpoint.engine.runners import get_runner
from counterpoint.engine.runners.base import AgentContext, AgentFailed, begin_run
from counterpoint.engine.workspace import ConsentDenied, ConsentPolicy, ToolCall, WorkspaceTools, WriteRecord

log = logging.getLogger(__name__)
SHIP_REF = "refs/counterpoint/ship"


class NodeAgent:
    """One attempt of one agent on this node; `messages` is what the coordinator reads."""

    def __init__(self, job: NodeJob, data: bytes | None, env: dict[str, str] | None = None) -> None:
        self.job = job
        self._env = dict(env or {})
        """Added to its processes' environment (the node guard's mark)."""
        self._data = data
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._asks: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._copy: NodeCopy | None = None
        self._signalled: set[str] = set()
        self._snap_lock = asyncio.Lock()
        self._budget = RunBudget(job.budget_limit)
        self._budget.spent = job.budget_spent
        self._reported_spend = job.budget_spent
        self._pending: set[asyncio.Task[None]] = set()

    def put(self, kind: str, **body: Any) -> None:
        if self._budget.spent != self._reported_spend:  # what its LLM calls cost, for the run's budget
            self.messages.put_nowait({"kind": "spend", "amount": self._budget.spent - self._reported_spend})
            self._reported_spend = self._budget.spent
        self.messages.put_nowait({"kind": kind, **body})

    def answer(self, ask: int, ok: bool, value: Any) -> None:
        future = self._asks.pop(ask, None)
        if future is not None and not future.done():
            future.set_result((ok, value))

    async def _ask(self, what: str, **body: Any) -> Any:
        ask = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._asks[ask] = future
        self.put("ask", id=ask, what=what, **body)
        ok, value = await future
        if not ok:
            if value == "timeout":
                raise TimeoutError(f"{what} timed out")
            raise ConsentDenied(str(value)) if what == "consent" else AgentFailed(str(value))
        return value

    # -- the attempt ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The whole attempt; its last message is ``done``."""
        outcome: dict[str, Any] = {"outcome": "failed", "error": "the agent did not start"}
        source = None
        try:
            job = self.job
            copy = await node_copy.make_copy(
                job.run_id,
                job.agent.name,
                job.attempt,
                job.start,
                self._data,
                job.workspace_rel,
                job.spec_rel,
                job.store or job.run_id,
            )
            self._copy, self._data = copy, None
            self.put("copy", path=str(copy.path), seconds=copy.seconds)
            if job.watch and job.spec.signals:
                source = await self._watch(copy)
            runner = get_runner(job.agent.settings.runner)
            await begin_run(runner, self._context(copy))
            outcome = {"outcome": "succeeded", "error": None}
        except asyncio.CancelledError:
            outcome = {"outcome": "cancelled", "error": "cancelled"}
        except AgentFailed as exc:
            outcome = {"outcome": "failed", "error": str(exc)}
        except TimeoutError as exc:
            outcome = {"outcome": "failed", "error": f"timed out: {exc}"}
        except Exception as exc:  # a runner bug ends this agent, not the node
            log.exception("agent %s crashed", self.job.agent.name)
            outcome = {"outcome": "failed", "error": f"{type(exc).__name__}: {exc}"}
        finally:
            if source is not None:
                with contextlib.suppress(Exception):
                    await source.stop()
        try:
            if outcome["outcome"] != "cancelled":  # a cancelled agent's work is not kept
                outcome.update(await self._final())
        except Exception as exc:
            log.exception("final snapshot of %s failed", self.job.agent.name)
            outcome["error"] = outcome["error"] or f"its work could not be sent back: {exc}"
            outcome["outcome"] = "failed"
        finally:
            if self._copy is not None:
                await node_copy.remove(self._copy)
        self.put("done", **outcome)

    async def _final(self) -> dict[str, Any]:
        """The last snapshot and the file signals it fires that were not sent yet."""
        copy = self._copy
        if copy is None:
            return {}
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await task
        from counterpoint.engine.watch import SignalMatcher

        async with self._snap_lock:
            made = await node_copy.snapshot(copy, f"{copy.agent}: done")
            data = await bundle(copy.path, copy.last, [copy.sent, copy.start], SHIP_REF)
            copy.sent = copy.last
        missed: list[dict[str, str]] = []
        matcher = SignalMatcher(copy.spec_dir, self.job.spec.signals)
        for rel in await node_copy.changed_since_start(copy):
            path = copy.path / rel
            for signal in matcher.match(path) if path.is_relative_to(copy.root) else []:
                if signal not in self._signalled:
                    self._signalled.add(signal)
                    missed.append({"signal": signal, "path": path.relative_to(copy.root).as_posix()})
        files = made[1] if made is not None else []
        return {"commit": copy.last, "bundle": data, "files": files, "missed": missed}

    async def _watch(self, copy: NodeCopy) -> Any:
        from counterpoint.engine.watch import FileSignalSource

        def fire(signal: str, metadata: dict[str, Any]) -> None:
            task = asyncio.get_running_loop().create_task(
                self._signal(signal, {**metadata, "attribution": "copy"})
            )
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        source = FileSignalSource(copy.root, copy.spec_dir, self.job.spec.signals, fire)
        await source.begin()
        return source

    async def _signal(self, signal: str, metadata: dict[str, Any]) -> None:
        """``signal`` fired by this agent: its copy snapshotted, the snapshot sent with it."""
        copy = self._copy
        if copy is None or signal in self._signalled:
            return
        self._signalled.add(signal)
        async with self._snap_lock:
            made = await node_copy.snapshot(copy, f"{copy.agent}: {signal}")
            data = await bundle(copy.path, copy.last, [copy.sent, copy.start], SHIP_REF)
            copy.sent = copy.last
        files = made[1] if made is not None else None
        self.put("signal", signal=signal, metadata=metadata, commit=copy.last, files=files, bundle=data)

    # -- what the runner gets ---------------------------------------------------------------------

    def _context(self, copy: NodeCopy) -> AgentContext:
        job = self.job
        settings = job.agent.settings
        env = {
            **settings.env,
            **{k: os.environ.get(k, "") for k in job.secret_env},
            **copy.env(),
            **self._env,
        }
        # runners read the agent's own env: its secrets, the copy's git ceiling and the guard's mark
        agent = job.agent.model_copy(update={"settings": settings.model_copy(update={"env": env})})
        consent = ConsentPolicy(copy.root, trust=job.trusted, asker=self._consent)

        async def record_tool(call: ToolCall) -> None:
            self.put("tool", tool=call.tool, args=call.args, result=call.result, error=call.error)

        async def written(record: WriteRecord) -> None:
            self.put(
                "write", path=record.path, sha256=record.sha256, size=record.size, created=record.created
            )

        async def emit_signal(name: str, metadata: dict[str, Any]) -> None:
            await self._signal(name, metadata)

        async def wait_for_signal(name: str, timeout: float | None = None) -> dict[str, Any]:
            value: dict[str, Any] = await self._ask("wait", signal=name, timeout=timeout)
            return value

        async def record(type: str, action: str | None, metadata: dict[str, Any]) -> None:
            self.put("record", type=type, action=action, metadata=metadata)

        return AgentContext(
            run_id=job.run_id,
            agent=agent,
            spec=job.spec,
            spec_dir=copy.spec_dir,
            workspace_root=copy.root,
            tools=WorkspaceTools(copy.root, copy.spec_dir, recorder=record_tool, on_write=written),
            shared_context=job.shared_context,
            task=job.task,
            cwd=copy.spec_dir / settings.cwd if settings.cwd else copy.spec_dir,
            consent=consent,
            emit_signal=emit_signal,
            wait_for_signal=wait_for_signal,
            output=lambda line: self.put("output", line=line),
            record=record,
            began=lambda: self.put("began"),
            speed=job.speed,
            attempt=job.attempt,
            env=env,
            options={**job.options, "budget": self._budget},
        )

    async def _consent(self, workspace: str, what: str) -> bool:
        allowed: bool = await self._ask("consent", command=what)
        return allowed

"""One attempt of one agent on a node of the Ray cluster, seen from the coordinator.

The tree the agent starts from goes to the node as a bundle (through the object store); an
`AgentActor` there makes the copy and runs the runner; its messages come back in batches, in
order, and become the run's events here (this process alone writes the log). A signal's
snapshot comes back as a bundle and goes on the agent's branch before the signal fires; at the
end, its work is merged as an isolated agent's. When the node dies, the attempt starts again on
another node from the last snapshot that came back (an ``agent_moved`` event says where and why).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import AgentMovedPayload, EventType, WorkingCopyPayload

from counterpoint.engine.executors import bundles
from counterpoint.engine.executors.base import MOVES, RemoteWork
from counterpoint.engine.executors.job import build_job
from counterpoint.engine.executors.ray_cluster import Node, RayCluster, actor_class, actor_options
from counterpoint.engine.executors.resources import Resources
from counterpoint.engine.isolation import RunRefs, git, ref_component
from counterpoint.engine.runners.base import AgentContext, AgentFailed
from counterpoint.engine.workspace import ToolCall, WriteRecord

if TYPE_CHECKING:
    from counterpoint.engine.run.state import AgentRuntime

log = logging.getLogger(__name__)
STOP_S = 5.0
"""How long a cancelled agent's actor has to end its runner before it is killed."""
VERDICT_S = 60.0
"""How long a lost actor's node has to be declared dead (Ray's health checks) before the agent
fails instead of moving."""
NODE_GONE = ("node has died", "node died", "node is dead", "owner died", "node failure", "preempted")


class NodeLost(Exception):
    """The node (or the actor on it) is gone: the attempt starts again elsewhere."""


class RemoteAttempt:
    def __init__(
        self,
        work: RemoteWork,
        agent: AgentRuntime,
        ctx: AgentContext,
        cluster: RayCluster,
        request: Resources,
        *,
        shipped: dict[str, list[str]],
        task: str,
    ) -> None:
        self.work = work
        self.shipped = shipped
        """Node id -> the start trees' commits its object store has (bundles leave them out)."""
        self.task = task
        self.agent = agent
        self.name = agent.name
        self.ctx = ctx
        self.cluster = cluster
        self.request = request
        self.node: Node = Node("", "", {})
        self.head = ""
        """The agent's branch here: its start, then each snapshot that came back."""
        self._real: dict[str, str] = {}
        """A commit made on the node -> the same tree on the agent's branch here."""
        self._asks: set[asyncio.Task[None]] = set()

    async def run(self, node: Node) -> None:
        self.node = node
        work = self.work
        start = await work.start_of(self.agent)
        self.head = start.commit
        await git(work.repo, "update-ref", work.refs.agent(self.name), self.head)
        merged = list(start.merged)
        moves = 0
        while True:
            try:
                done = await self._on_node(merged)
                break
            except NodeLost as lost:
                moves += 1
                self.cluster.release(self.node.id, self.request)
                if moves > MOVES:
                    raise AgentFailed(
                        f"its node {self.node.address} was lost ({lost}); moved {MOVES} times"
                    ) from None
                await asyncio.to_thread(self.cluster.refresh)
                new = self.cluster.reserve(self.request, avoid=frozenset({self.node.id}))
                if new is None:
                    raise AgentFailed(
                        f"its node {self.node.address} was lost ({lost}) and no other node can run it"
                    ) from None
                payload = AgentMovedPayload(
                    node=new.address,
                    from_node=self.node.address,
                    reason=str(lost),
                    moves=moves,
                    start_commit=self.head,
                )
                await self.ctx.record(EventType.AGENT_MOVED, new.address, payload.metadata())
                self.node, merged = new, []
        if done["outcome"] == "cancelled":
            raise asyncio.CancelledError
        if done["outcome"] != "succeeded":
            raise AgentFailed(done.get("error") or "failed on its node")
        await work.merge_work(self.agent, self.head)

    # -- on one node ----------------------------------------------------------------------------------

    async def _on_node(self, merged: list[str]) -> dict[str, Any]:
        if not await self.cluster.admit(self.node, self.request):  # its resources free there
            raise NodeLost(f"node {self.node.address} died")
        try:  # its timeout counts once it may run (as a local agent's, from its runner's start)
            return await asyncio.wait_for(self._on_admitted(merged), self.agent.spec.settings.timeout)
        finally:
            await self.cluster.leave(self.node, self.request)

    async def _on_admitted(self, merged: list[str]) -> dict[str, Any]:
        import ray

        from counterpoint import __version__

        work, node = self.work, self.node
        known = self.shipped.setdefault(node.id, [])
        ship = await bundles.start_commit(work.repo, self.head, known[-1] if known else None)
        ref = f"refs/counterpoint/ship/{ref_component(self.name)}"
        data = await bundles.bundle(work.repo, ship, known[-1:], ref)
        await git(work.repo, "update-ref", "-d", ref, check=False)
        self._real[ship] = self.head
        job, env = build_job(
            self.ctx,
            start=ship,
            workspace_rel=_rel(work.root, work.repo.toplevel),
            spec_rel=_rel(work.spec_dir, work.repo.toplevel),
            task=self.task,
            trusted=self.ctx.consent.trust,
            version=__version__,
            store=_store_key(work.repo.git_dir),
        )
        own = bool(job.secret_env)  # its secrets in its process's environment: an actor of its own
        if own:
            options = actor_options(node, env, **self.request.ray_options())
            actor = actor_class().options(**options).remote()
        else:
            actor = self.cluster.shared_actor(node, env)
        key = uuid.uuid4().hex
        # serialized off the loop (a spec and its shared context can be large); resolved on the node
        job_ref, data_ref = await asyncio.to_thread(lambda: (ray.put(job), ray.put(data)))
        stream = actor.run.options(num_returns="streaming").remote(key, job_ref, data_ref)
        ended = False
        try:
            async for ref in stream:
                for message in await ref:
                    if message["kind"] == "copy" and ship not in known:
                        known.append(ship)  # the node's store has that tree now
                    if message["kind"] == "done":
                        ended = True
                        await self._done(message, node)
                        return dict(message)
                    await self._handle(actor, key, message, node, merged)
            raise NodeLost("its actor ended without a word")
        except ray.exceptions.RayTaskError as exc:  # our code failed on the node: no node to blame
            raise AgentFailed(f"on node {node.address}: {exc.cause or exc}") from None
        except ray.exceptions.RayError as exc:
            failure = await self._lost_or_failed(exc)
            if isinstance(failure, NodeLost):
                self.cluster.forget(node.id)
            raise failure from None
        finally:
            for task in self._asks:
                task.cancel()
            await _stop(actor, key, stream, ended, own)

    async def _lost_or_failed(self, exc: Exception) -> Exception:
        """A lost actor: its node died (the attempt moves), or it failed on a live node. Ray
        may say the actor is unavailable before its node is known dead: wait for the verdict."""
        text = str(exc)
        lost = NodeLost(f"node {self.node.address} died")
        if any(word in text.lower() for word in NODE_GONE):
            return lost
        deadline = asyncio.get_running_loop().time() + VERDICT_S
        while True:
            await asyncio.to_thread(_quietly, self.cluster.refresh)
            if not self.cluster.alive(self.node.id):
                return lost
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return AgentFailed(f"its actor on node {self.node.address} failed: {first}")

    async def _handle(
        self, actor: Any, key: str, message: dict[str, Any], node: Node, merged: list[str]
    ) -> None:
        kind, ctx = message["kind"], self.ctx
        if kind == "output":
            ctx.output(message["line"])
        elif kind == "began":
            ctx.began()
        elif kind == "record":
            await ctx.record(message["type"], message["action"], message["metadata"])
        elif kind == "tool" and ctx.tools.recorder is not None:
            call = ToolCall(self.name, message["tool"], message["args"], message["result"], message["error"])
            await ctx.tools.recorder(call)
        elif kind == "write" and ctx.tools.on_write is not None:
            fields = {k: message[k] for k in ("path", "sha256", "size", "created")}
            await ctx.tools.on_write(WriteRecord(self.name, **fields))
        elif kind == "signal":
            commit = await self._take(message["commit"], message["bundle"], message["signal"])
            await self.work.hand_on_signal(
                self.name, message["signal"], message["metadata"], commit, message["files"]
            )
        elif kind == "ask":
            task = asyncio.get_running_loop().create_task(self._answer(actor, key, message))
            self._asks.add(task)
            task.add_done_callback(self._asks.discard)
        elif kind == "spend":
            budget = ctx.options.get("budget")
            if budget is not None:
                budget.charge(self.name, float(message["amount"]))
        elif kind == "copy":
            payload = WorkingCopyPayload(
                path=message["path"],
                branch=RunRefs.branch_name(self.work.refs.agent(self.name)),
                start_commit=self.head,
                method="ray",
                seconds=message["seconds"],
                signals=merged,
                node=node.address,
            )
            await ctx.record(EventType.WORKING_COPY_CREATED, "ray", payload.metadata())

    async def _take(self, node_commit: str, data: bytes | None, label: str) -> str:
        """A snapshot that came back: its objects here, its tree on the agent's branch."""
        if node_commit in self._real:
            return self._real[node_commit]
        await bundles.unbundle(self.work.repo, data)
        commit = await bundles.reparent(self.work.repo, node_commit, self.head, f"{self.name}: {label}")
        await git(self.work.repo, "update-ref", self.work.refs.agent(self.name), commit, self.head)
        self._real[node_commit] = self.head = commit
        return commit

    async def _done(self, message: dict[str, Any], node: Node) -> None:
        if not message.get("commit"):
            return
        before = self.head
        commit = await self._take(message["commit"], message.get("bundle"), "done")
        if commit != before and message.get("files"):
            await self.ctx.record(EventType.SNAPSHOT, "done", {"commit": commit, "files": message["files"]})
        for missed in message.get("missed", []):
            meta = {"path": missed["path"], "kind": "added", "attribution": "copy"}
            await self.work.hand_on_signal(self.name, missed["signal"], meta, commit, None)

    async def _answer(self, actor: Any, key: str, message: dict[str, Any]) -> None:
        ok: bool = True
        value: Any = None
        try:
            if message["what"] == "consent":
                value = await self.ctx.consent.allowed(message["command"])
            elif message["what"] == "wait":
                value = await self.ctx.wait_for_signal(message["signal"], message.get("timeout"))
        except TimeoutError:
            ok, value = False, "timeout"
        except Exception as exc:
            ok, value = False, str(exc)
        actor.answer.remote(key, message["id"], ok, value)


def _rel(path: Path, top: Path) -> str:
    rel = Path(path).resolve().relative_to(Path(top).resolve()).as_posix()
    return "" if rel == "." else rel


def _store_key(git_dir: Path) -> str:
    """Names the repository's object store on nodes (this machine and its git dir)."""
    return hashlib.sha256(f"{socket.gethostname()}:{git_dir}".encode()).hexdigest()[:16]


def _quietly(fn: Any) -> None:
    with contextlib.suppress(Exception):
        fn()


async def _stop(actor: Any, key: str, stream: Any, ended: bool, own: bool) -> None:
    """The attempt over on the node: if it did not end by itself, its runner cancelled there (its
    process group killed) and its stream drained (`STOP_S` at most); an actor of its own killed."""
    import ray

    if not ended:
        with contextlib.suppress(Exception):
            actor.cancel.remote(key)

            async def drain() -> None:
                async for _ref in stream:
                    pass

            await asyncio.wait_for(drain(), STOP_S)
    if own:
        await asyncio.to_thread(_quietly, lambda: ray.kill(actor, no_restart=True))

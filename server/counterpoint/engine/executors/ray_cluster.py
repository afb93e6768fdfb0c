"""The Ray cluster this process drives (one connection per process, made off the event loop).

`connect` joins the cluster at ``RAY_ADDRESS`` (else Ray's own discovery: a node started here
with ``ray start``), as a driver: the coordinator must run on a node of the cluster (or name a
``ray://`` client address). A thread keeps a view of the live nodes and their resources, so
placing an agent (`RayCluster.reserve`) never waits on the network; what this process placed is
counted, so agents spread over the nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from counterpoint.engine.executors.base import ExecutorError
from counterpoint.engine.executors.resources import CPU, Resources, fits, shortfall

log = logging.getLogger(__name__)
ADDRESS_ENV = "RAY_ADDRESS"
RUNTIME_ENV = "COUNTERPOINT_RAY_RUNTIME_ENV"
"""A JSON runtime_env for the whole job (py_modules, a container...): how nodes get code."""
REFRESH_S = 1.0
NAMESPACE = "counterpoint"
INSTALL = "install it with `pip install 'counterpoint[ray]'` (the same Ray version as the cluster)"


@dataclass(frozen=True)
class Node:
    id: str
    address: str
    totals: Mapping[str, float]


class RayCluster:
    """The connected cluster: its live nodes, and what this process placed on each."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.nodes: dict[str, Node] = {}
        self._lock = threading.Lock()
        self._reserved: dict[str, dict[str, float]] = {}
        self._agents: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shared: dict[tuple[str, str], Any] = {}
        """(node id, environment) -> the actor agents share there."""
        self._running: dict[str, dict[str, float]] = {}
        self._freed: tuple[asyncio.AbstractEventLoop, asyncio.Condition] | None = None

    def connect(self) -> None:
        """Join the cluster (blocking: call it on a thread)."""
        try:
            import ray
        except ImportError:
            raise ExecutorError(f"executor ray: Ray is not installed here: {INSTALL}") from None
        _probe(self.address)
        runtime_env = json.loads(os.environ[RUNTIME_ENV]) if os.environ.get(RUNTIME_ENV) else None
        try:
            ray.init(
                address=self.address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.ERROR,
                runtime_env=runtime_env,
                ignore_reinit_error=True,
            )
        except Exception as exc:
            raise ExecutorError(f"cannot join the Ray cluster at {self.address}: {exc}") from exc
        self.refresh()
        self._thread = threading.Thread(target=self._follow, name="counterpoint-ray-nodes", daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        """The live nodes now (blocking)."""
        import ray

        found = {}
        for entry in ray.nodes():
            if entry.get("Alive") or entry.get("alive"):
                node = Node(entry["NodeID"], entry["NodeManagerAddress"], dict(entry.get("Resources", {})))
                found[node.id] = node
        with self._lock:
            self.nodes = found

    def _follow(self) -> None:
        while not self._stop.wait(REFRESH_S):
            try:
                self.refresh()
            except Exception:  # the cluster is going away; the agents' streams say so
                log.debug("refreshing the node view failed", exc_info=True)

    def alive(self, node_id: str) -> bool:
        return node_id in self.nodes

    def why_not(self, request: Resources) -> str | None:
        """None if some live node could run ``request``; else why none could."""
        nodes = list(self.nodes.values())
        if any(fits(request, node.totals) for node in nodes):
            return None
        if not nodes:
            return f"the Ray cluster at {self.address} has no live node"
        return f"no node of the Ray cluster at {self.address} has {shortfall(request, [n.totals for n in nodes])}"

    def reserve(self, request: Resources, avoid: frozenset[str] = frozenset()) -> Node | None:
        """The node to run ``request`` on (its amounts counted there), None when no live node
        could: the one with the most CPU left after what this process placed, then the fewest agents."""
        with self._lock:
            candidates = [n for n in self.nodes.values() if n.id not in avoid and fits(request, n.totals)]
            if not candidates:
                candidates = [n for n in self.nodes.values() if fits(request, n.totals)]
            if not candidates:
                return None

            def free(node: Node) -> tuple[bool, float, int]:
                taken = self._reserved.get(node.id, {})
                left = {name: node.totals.get(name, 0.0) - taken.get(name, 0.0) for name in node.totals}
                return (fits(request, left), left.get(CPU, 0.0), -self._agents.get(node.id, 0))

            node = max(candidates, key=free)
            taken = self._reserved.setdefault(node.id, {})
            for name, amount in request.amounts().items():
                taken[name] = taken.get(name, 0.0) + amount
            self._agents[node.id] = self._agents.get(node.id, 0) + 1
            return node

    def release(self, node_id: str, request: Resources) -> None:
        with self._lock:
            taken = self._reserved.get(node_id, {})
            for name, amount in request.amounts().items():
                taken[name] = max(0.0, taken.get(name, 0.0) - amount)
            self._agents[node_id] = max(0, self._agents.get(node_id, 0) - 1)

    # -- the actors agents share, and what runs on each node --------------------------------------

    def shared_actor(self, node: Node, env: Mapping[str, str]) -> Any:
        """The actor agents share on ``node`` (made at first use, in milliseconds after): it asks
        Ray for nothing (the agents' resources are counted here, `admit`), and its environment is
        the same for every agent it runs (no agent's own secrets: those get an actor of their own)."""
        key = (node.id, json.dumps(sorted(env.items())))
        actor = self._shared.get(key)
        if actor is None:
            actor = self._shared[key] = actor_class().options(**actor_options(node, env, num_cpus=0)).remote()
        return actor

    def forget(self, node_id: str) -> None:
        """A node that died: its shared actors are gone with it."""
        for key in [k for k in self._shared if k[0] == node_id]:
            del self._shared[key]

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._freed is None or self._freed[0] is not loop:
            self._freed = (loop, asyncio.Condition())
        return self._freed[1]

    async def admit(self, node: Node, request: Resources) -> bool:
        """Wait until ``request`` fits in what ``node`` has left (counted with what runs there
        from this process); False when the node died meanwhile."""
        freed = self._condition()
        async with freed:
            while True:
                if not self.alive(node.id):
                    return False
                running = self._running.setdefault(node.id, {})
                left = {name: node.totals.get(name, 0.0) - running.get(name, 0.0) for name in node.totals}
                if fits(request, left) or not any(running.values()):
                    for name, amount in request.amounts().items():
                        running[name] = running.get(name, 0.0) + amount
                    return True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(freed.wait(), REFRESH_S)

    async def leave(self, node: Node, request: Resources) -> None:
        running = self._running.setdefault(node.id, {})
        for name, amount in request.amounts().items():
            running[name] = max(0.0, running.get(name, 0.0) - amount)
        freed = self._condition()
        async with freed:
            freed.notify_all()


_actor_class: Any = None


def actor_class() -> Any:
    """`AgentActor` as a Ray actor class (made once: Ray exports it to the cluster once)."""
    global _actor_class
    if _actor_class is None:
        import ray

        from counterpoint.engine.executors.ray_node import AgentActor

        _actor_class = ray.remote(AgentActor)
    return _actor_class


def actor_options(node: Node, env: Mapping[str, str], **resources: Any) -> dict[str, Any]:
    """Pinned to ``node``, never restarted (a lost actor's agents move), ``env`` its environment."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options: dict[str, Any] = {
        **resources,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node.id, soft=False),
        "max_restarts": 0,
        "max_task_retries": 0,
        "max_concurrency": 1000,
    }
    if env:
        options["runtime_env"] = {"env_vars": dict(env)}
    return options


def _probe(address: str) -> None:
    """A clear error at once when a host:port address answers nothing (Ray would retry for long)."""
    if address in ("auto", "local") or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except (OSError, ValueError) as exc:
        raise ExecutorError(
            f"no Ray cluster answers at {address} ({exc}): start one (`ray start --head`) or set {ADDRESS_ENV}"
        ) from None


_cluster: RayCluster | None = None
_connecting = threading.Lock()


def connected() -> RayCluster | None:
    """The cluster this process joined, if it did."""
    return _cluster


def default_address() -> str:
    return os.environ.get(ADDRESS_ENV) or "auto"


def _connect(address: str) -> RayCluster:
    global _cluster
    with _connecting:
        if _cluster is None:
            cluster = RayCluster(address)
            cluster.connect()
            _cluster = cluster
        return _cluster


async def connect(address: str | None = None) -> RayCluster:
    """Join the cluster (once per process; `ExecutorError` naming the fix when it cannot)."""
    if _cluster is not None:
        return _cluster
    return await asyncio.to_thread(_connect, address or default_address())

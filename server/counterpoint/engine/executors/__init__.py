"""The executors room: where an agent's attempts run.

``local`` (the default): in the run's own process, as always (`AgentWorker` runs the runner).
``ray``: each attempt in a Ray actor on a node of a cluster (`counterpoint[ray]`, imported only
when an agent runs there): choice (which executor runs an agent), resources (what it asks of a
node), ray_cluster (the connection and the node view), ray_agents and ray_attempt (the
coordinator's side), ray_node, node_agent and node_copy (the node's side), bundles (work as git
objects between them), job (what a node is given, without secrets).
"""

from __future__ import annotations

from counterpoint.engine.executors.base import EXECUTORS, MOVES, ExecutorError, RemoteWork
from counterpoint.engine.executors.choice import OPTION, RemoteAgents, executor_of, remote_for, shared_on_ray
from counterpoint.engine.executors.resources import ResourceError, Resources, parse_resources

__all__ = [
    "EXECUTORS",
    "MOVES",
    "OPTION",
    "ExecutorError",
    "RemoteAgents",
    "RemoteWork",
    "ResourceError",
    "Resources",
    "executor_of",
    "parse_resources",
    "remote_for",
    "shared_on_ray",
]

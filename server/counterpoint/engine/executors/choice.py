"""Which executor runs an agent: ``executor:`` in the spec, or ``--executor`` for the whole run.

Integrators always run where the run is (they work in the integration copy, next to the checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from counterpoint_protocol.spec import AgentSpec, Spec

from counterpoint.engine.executors.base import EXECUTORS, RemoteWork
from counterpoint.engine.runners.base import AgentContext, AgentFailed

if TYPE_CHECKING:
    from counterpoint.engine.run.state import AgentRuntime

OPTION = "executor"
"""The run option (``RunOptions.extra``) that overrides every agent's ``executor:``."""


class RemoteAgents(Protocol):
    """A run's agents on another machine: placed when they start, each attempt run there."""

    def place(self, agent: AgentRuntime) -> dict[str, Any]:
        """Where it will run (``node``, ``node_id`` for its ``agent_started``), without waiting."""

    async def attempt(self, agent: AgentRuntime, ctx: AgentContext) -> None:
        """One attempt there, its work merged (as `AgentWorker` runs a local one)."""


def executor_of(agent: AgentSpec, options: Mapping[str, Any]) -> str:
    """The executor that runs ``agent`` in a run with these options."""
    if agent.settings.integrate:
        return "local"
    chosen = options.get(OPTION)
    return chosen if chosen in EXECUTORS else agent.settings.executor


def remote_for(
    agent: AgentRuntime, options: Mapping[str, Any], work: RemoteWork | None
) -> RemoteAgents | None:
    """What runs ``agent`` elsewhere; None: this process runs it (``executor: local``)."""
    if executor_of(agent.spec, options) == "local":
        return None
    if work is None or not work.isolated(agent):
        return _Refused(agent.name)
    from counterpoint.engine.executors.ray_agents import RayAgents

    return RayAgents.of(work)


def shared_on_ray(spec: Spec, agents: list[str] | None, executor: str) -> list[str]:
    """The agents ``--executor`` would put on Ray that work in the shared workspace (refused)."""
    if executor != "ray":
        return []
    return [
        a.name
        for a in spec.agents
        if (agents is None or a.name in agents)
        and not a.settings.integrate
        and a.settings.isolation != "worktree"
    ]


class _Refused:
    """An agent asked to run on Ray that works in the shared workspace: it fails, saying why."""

    def __init__(self, name: str) -> None:
        self.name = name

    def place(self, agent: AgentRuntime) -> dict[str, Any]:
        return {}

    async def attempt(self, agent: AgentRuntime, ctx: AgentContext) -> None:
        raise AgentFailed(
            f"executor ray: {self.name} works in the shared workspace (isolation: shared); an agent "
            "on Ray works in a copy of its own: set `isolation: worktree`"
        )

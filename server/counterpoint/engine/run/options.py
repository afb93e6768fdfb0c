"""What a run is asked to do (`RunOptions`) and which agents that selects.

The options are complete when the run is created: the faces fill in their gate handler, consent
asker, trust, watcher ignores, and `Engine.start_run` the user's settings; nothing is patched
into a run afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from counterpoint_protocol.spec import AgentSpec, Spec

from counterpoint.engine.workspace import Asker

if TYPE_CHECKING:
    from counterpoint.engine.run.state import AgentRuntime
    from counterpoint.engine.run.view import RunView

GateAnswer = Literal["start", "skip", "cancel"]
GateHandler = Callable[["RunView", str, str], Awaitable[GateAnswer]]
"""(the run's view, agent name, question) -> the person's answer."""


@dataclass
class RunOptions:
    """Everything a run is asked to do, fixed before it is created."""

    agents: list[str] | None = None
    """Run only these agents and what they need (None: all)."""
    max_parallel: int | None = None
    speed: float = 1.0
    trust: bool = False
    approve_all: bool = False
    record: bool = False
    gate_handler: GateHandler | None = None
    consent_asker: Asker | None = None
    watcher_ignores: list[str] = field(default_factory=list)
    watch: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    exact: bool = False
    """Run exactly ``agents``, without adding what they need (rerun and resume)."""
    completed_agents: set[str] = field(default_factory=set)
    """Agents that succeeded earlier in this run (resume, rerun): needs on them are met."""
    restored_signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Signals that fired earlier in this run (resume, rerun)."""
    resumed: str | None = None
    """Why this run continues an earlier one ("resume" or "rerun"), if it does."""
    user_settings: dict[str, Any] | None = None
    restored_isolation: dict[str, Any] | None = None
    """Resume, rerun: the isolation of the earlier run (``run_started.metadata.isolation``): its
    base is kept, its integration branch and agents' branches go on."""
    repo: Any = None
    """The git repository of isolated agents (an `isolation.Repo`, checked by `Engine.start_run`);
    None when no selected agent has ``isolation: worktree``."""
    """The user's settings file (`user_config.load_user_settings`), read by `Engine.start_run`
    before the run exists; None: the run reads it as it starts (a run built directly)."""

    def with_face(
        self,
        *,
        gate_handler: GateHandler | None = None,
        consent_asker: Asker | None = None,
        trust: bool = False,
        watcher_ignores: list[str] | None = None,
    ) -> RunOptions:
        """These options completed by a face: its asks where none is set, trust if it trusts,
        its watcher ignores after the run's own. Returns a new `RunOptions`."""
        return replace(
            self,
            gate_handler=self.gate_handler or gate_handler,
            consent_asker=self.consent_asker or consent_asker,
            trust=self.trust or trust,
            watcher_ignores=[*self.watcher_ignores, *(watcher_ignores or [])],
        )


async def user_extras(options: RunOptions, root: Path) -> dict[str, Any]:
    """What the user's settings add to the runners' options (read now if `start_run` did not)."""
    from counterpoint.engine.workspace import load_user_settings, run_extras

    settings = options.user_settings
    if settings is None:
        settings = await asyncio.to_thread(load_user_settings, root)
    return run_extras(settings)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def select_agents(spec: Spec, wanted: list[str] | None) -> list[AgentSpec]:
    """The agents to run: ``wanted`` and, transitively, every agent they need (by name or signal)."""
    if not wanted:
        return list(spec.agents)
    emitters: dict[str, list[str]] = {}
    for agent in spec.agents:
        for signal in agent.settings.emits:
            emitters.setdefault(signal, []).append(agent.name)
    names = {a.name for a in spec.agents}
    chosen: set[str] = set()
    stack = [w for w in wanted if w in names]
    while stack:
        name = stack.pop()
        if name in chosen:
            continue
        chosen.add(name)
        found = spec.agent(name)
        assert found is not None
        for need in found.settings.needs:
            if need in names:
                stack.append(need)
            else:  # a signal: whoever emits it (a glob's file is usually written by one of them too)
                stack.extend(emitters.get(need, []))
    return [a for a in spec.agents if a.name in chosen]


def started_metadata(
    spec: Spec, options: RunOptions, agents: list[AgentRuntime], max_parallel: int
) -> dict[str, Any]:
    """What ``run_started`` (or ``run_resumed``) says of a run."""
    return {
        "spec": str(spec.path),
        "agents": [a.name for a in agents],
        "max_parallel": max_parallel,
        "selection": options.agents,
        "pid": os.getpid(),
        "integrators": [a.name for a in agents if a.spec.settings.integrate],
        "checks": [c.settings.name for c in spec.checks],
        "restored_signals": sorted(options.restored_signals),
        "completed_agents": sorted(options.completed_agents),
    }

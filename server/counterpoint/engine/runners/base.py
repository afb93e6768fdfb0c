"""What every runner gets (`AgentContext`) and must implement (`Runner`)."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counterpoint_protocol.spec import AgentSpec, Spec

from counterpoint.engine.workspace import (
    ConsentDenied,
    ConsentPolicy,
    SharedContext,
    UnsafePath,
    WorkspaceTools,
    confine,
)


class AgentFailed(Exception):
    """The agent failed; the message says why, for the person reading the report."""


@dataclass
class AgentContext:
    """Everything a runner may use. Runners never touch the event log or the scheduler directly."""

    run_id: str
    agent: AgentSpec
    spec: Spec
    spec_dir: Path
    workspace_root: Path
    tools: WorkspaceTools
    shared_context: SharedContext
    task: str
    cwd: Path
    consent: ConsentPolicy
    emit_signal: Callable[[str, dict[str, Any]], Awaitable[None]]
    """Fire a signal with metadata, as this agent."""
    wait_for_signal: Callable[[str, float | None], Awaitable[dict[str, Any]]]
    """Wait until a signal fires (or a timeout in seconds: TimeoutError); returns its metadata."""
    output: Callable[[str], None]
    """One line of the agent's output (an ``agent_output`` event, coalesced for editors)."""
    record: Callable[[str, str | None, dict[str, Any]], Awaitable[None]]
    """Append any other event (type, action, metadata) with this agent as actor."""
    speed: float = 1.0
    attempt: int = 1
    env: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """Run-wide options from the CLI or the editor (e.g. record=True, user settings for llm)."""
    began: Callable[[], None] = field(default=lambda: None)
    """The agent's work actually began (an ``agent_active`` event, once per stint; busy time
    counts from it): a runner with ``starts_process`` calls it once its process runs."""

    @property
    def name(self) -> str:
        return self.agent.name


class Runner(abc.ABC):
    """Runs one agent to completion; raises AgentFailed on failure, CancelledError when cancelled."""

    name: str = "runner"
    starts_process: bool = False
    """True if the agent's work is a process the runner starts (it calls ``ctx.began()`` then);
    else the work begins with ``run`` (see `begin_run`)."""

    @abc.abstractmethod
    async def run(self, ctx: AgentContext) -> None: ...


async def begin_run(runner: Runner, ctx: AgentContext) -> None:
    """``runner.run(ctx)``, marking the start of the work for a runner that does not mark it."""
    if not runner.starts_process:
        ctx.began()
    await runner.run(ctx)


async def allow_command(ctx: AgentContext, command: str, where: str = "") -> None:
    """Refuse (`AgentFailed`) to run ``command`` when the agent's working folder leaves the
    workspace or the user has not allowed the command; asks the user when the policy says so."""
    try:
        await asyncio.to_thread(confine, ctx.cwd, ctx.workspace_root, "working folder (cwd)")
        await ctx.consent.require(command)
    except (ConsentDenied, UnsafePath) as exc:
        raise AgentFailed(f"{where}: {exc}" if where else str(exc)) from exc

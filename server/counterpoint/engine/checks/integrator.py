"""The integrator: an agent (``integrate: true``) that starts after every other agent,
gets the open findings of the checks as its task, and loops fix -> recheck up to ``rounds``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from counterpoint_protocol.events import EventType, FindingPayload

from counterpoint.engine.runners import get_runner
from counterpoint.engine.runners.base import AgentContext, AgentFailed, begin_run

if TYPE_CHECKING:
    from counterpoint.engine.run.state import AgentRuntime
    from counterpoint.engine.run.view import RunView


class IntegrationChecks(Protocol):
    """What the integrator needs of the checks (the check manager is one): wait until they are
    idle, read their open findings (as a task too), run them all again."""

    async def wait_idle(self) -> None: ...

    def open_findings(self) -> list[FindingPayload]: ...

    def findings_text(self) -> str: ...

    async def rerun_all(self, reason: str) -> None: ...


async def integrate(
    checks: IntegrationChecks, run: RunView, agent: AgentRuntime, context: Callable[[], AgentContext]
) -> None:
    """The integrator: fix the open findings, let the checks run again, up to ``rounds`` times."""
    settings = agent.spec.settings
    runner = get_runner(settings.runner)
    await checks.wait_idle()
    for round_no in range(1, settings.rounds + 1):
        open_errors = [f for f in checks.open_findings() if f.severity == "error"]
        if not open_errors:
            run.emit(
                EventType.AGENT_OUTPUT,
                agent.name,
                None,
                line="checks pass: nothing to integrate"
                if round_no == 1
                else f"checks pass after round {round_no - 1}",
            )
            return
        run.emit(
            EventType.AGENT_OUTPUT,
            agent.name,
            "round",
            line=f"round {round_no}: {len(open_errors)} open finding(s)",
            round=round_no,
        )
        ctx = context()
        ctx.task = (
            agent.spec.task.rstrip()
            + "\n\n# Open findings of the integration checks\n\n"
            + checks.findings_text()
        )
        await asyncio.wait_for(begin_run(runner, ctx), settings.timeout)
        await checks.rerun_all(f"after {agent.name} round {round_no}")
    remaining = [f for f in checks.open_findings() if f.severity == "error"]
    if remaining:
        raise AgentFailed(
            f"checks still fail after {settings.rounds} round(s): "
            + "; ".join(f.message for f in remaining[:3])
        )

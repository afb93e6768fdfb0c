"""What one agent's runner gets from its run: the `AgentContext` of one attempt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.spec import Spec

from counterpoint.engine.run.output_batch import OutputBatcher
from counterpoint.engine.runners.base import AgentContext
from counterpoint.engine.workspace import ConsentPolicy, Redactor, SharedContext, WorkspaceTools

if TYPE_CHECKING:
    from counterpoint.engine.run.place import AgentPlace
    from counterpoint.engine.run.view import Emit
    from counterpoint.engine.run.worker import AgentWorker


def agent_context(
    worker: AgentWorker,
    *,
    place: AgentPlace | None = None,
    run_id: str,
    spec: Spec,
    root: Path,
    tools: WorkspaceTools,
    shared_context: SharedContext,
    consent: ConsentPolicy,
    fire: Callable[..., bool],
    wait_for_signal: Callable[..., Awaitable[dict[str, Any]]],
    output: OutputBatcher,
    redactor: Redactor,
    emit: Emit,
    speed: float,
    options: dict[str, Any],
) -> AgentContext:
    """The context of ``worker``'s next attempt: its signals, output and events go to the run."""
    agent = worker.agent
    spec_dir = Path(spec.path).parent
    task = agent.spec.task
    if place is not None:  # an isolated agent: everything maps onto its working copy
        root, spec_dir, tools = place.root, place.spec_dir, place.tools
        if place.conflict_note:
            task = f"{task}\n\nYour earlier work did not merge: {place.conflict_note}. It starts again on the merged work."
    cwd = spec_dir / agent.spec.settings.cwd if agent.spec.settings.cwd else spec_dir

    async def emit_signal(name: str, metadata: dict[str, Any]) -> None:
        if place is not None and place.on_signal is not None:
            await place.on_signal(name, metadata)  # a snapshot of its copy travels with it
        else:
            fire(name, metadata, actor=agent.name)

    def add_output(line: str) -> None:
        agent.last_output = redactor.text(line)  # shown in status and inlay hints
        output.add(agent.name, line)

    async def record(type: str, action: str | None, metadata: dict[str, Any]) -> None:
        emit(type, agent.name, action, **metadata)

    return AgentContext(
        run_id=run_id,
        agent=agent.spec,
        spec=spec,
        spec_dir=spec_dir,
        workspace_root=root,
        tools=tools,
        shared_context=shared_context,
        task=task,
        cwd=cwd,
        consent=consent,
        emit_signal=emit_signal,
        wait_for_signal=wait_for_signal,
        output=add_output,
        record=record,
        began=worker.began,
        speed=speed,
        attempt=agent.attempts,
        env={**agent.spec.settings.env, **(place.env if place is not None else {})},
        options=options,
    )

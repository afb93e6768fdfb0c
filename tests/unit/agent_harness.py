"""A real `AgentContext` for driving one runner directly in tests: real files, tools and consent.

`make_harness` builds the context a `Run` would give an agent, but collects what the
runner does (output lines, signals, recorded events, tool calls, writes) in lists, so
that a test can call ``runner.run(harness.ctx)`` and look at everything afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counterpoint.engine.runners.base import AgentContext
from counterpoint.engine.workspace import (
    Asker,
    ConsentPolicy,
    SharedContext,
    ToolCall,
    WorkspaceTools,
    WriteRecord,
)
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec


@dataclass
class Harness:
    root: Path
    outputs: list[str] = field(default_factory=list)
    keep_outputs: bool = True
    """False: keep only the last output line, count the rest (floods of output)."""
    output_lines: int = 0
    output_chars: int = 0
    longest_output: int = 0
    signals: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    records: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    writes: list[WriteRecord] = field(default_factory=list)
    ctx: AgentContext = field(init=False)

    def output(self, line: str) -> None:
        self.output_lines += 1
        self.output_chars += len(line)
        self.longest_output = max(self.longest_output, len(line))
        if self.keep_outputs:
            self.outputs.append(line)
        elif self.outputs:
            self.outputs[0] = line
        else:
            self.outputs.append(line)

    async def emit_signal(self, name: str, metadata: dict[str, Any]) -> None:
        self.signals.append((name, metadata))

    async def wait_for_signal(self, name: str, timeout: float | None) -> dict[str, Any]:
        for fired, metadata in self.signals:
            if fired == name:
                return metadata
        raise TimeoutError(name)

    async def record(self, type: str, action: str | None, metadata: dict[str, Any]) -> None:
        self.records.append((type, action, metadata))

    async def record_tool(self, call: ToolCall) -> None:
        self.tool_calls.append(call)

    async def on_write(self, record: WriteRecord) -> None:
        self.writes.append(record)


def make_harness(
    root: Path,
    *,
    name: str = "agent",
    task: str = "Build the thing.",
    trust: bool = True,
    asker: Asker | None = None,
    shared_context: SharedContext | None = None,
    speed: float = 1.0,
    keep_outputs: bool = True,
    **settings: Any,
) -> Harness:
    """A harness for agent ``name`` in workspace ``root`` (which is also the spec's folder)."""
    root = root.resolve()
    harness = Harness(root=root, keep_outputs=keep_outputs)
    where = SourceRange.on_line(3, 0, len(name) + 3)
    agent = AgentSpec(
        name=name,
        settings=AgentSettings.model_validate(settings),
        task=task,
        heading_range=where,
        name_range=where,
        section_end_line=5,
    )
    spec = Spec(path=str(root / "test.agents.md"), agents=[agent])
    tools = WorkspaceTools(root, root, recorder=harness.record_tool, on_write=harness.on_write)
    harness.ctx = AgentContext(
        run_id="test-run",
        agent=agent,
        spec=spec,
        spec_dir=root,
        workspace_root=root,
        tools=tools,
        shared_context=shared_context or SharedContext(),
        task=task,
        cwd=root,
        consent=ConsentPolicy(root, trust=trust, asker=asker),
        emit_signal=harness.emit_signal,
        wait_for_signal=harness.wait_for_signal,
        output=harness.output,
        record=harness.record,
        speed=speed,
        env=dict(agent.settings.env),
    )
    return harness

"""The tools an LLM agent gets, the lines it streams, and the transcript it may record.

Every tool is a thin wrapper over the confined, recorded `WorkspaceTools` (or the run's
signals), called with the agent's name as actor. A `ToolError` goes back to the model
as a retry prompt (pydantic-ai ``ModelRetry``), not a crash; a command the user has not
allowed fails the agent at once with the how-to message (nothing runs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from counterpoint.engine.process import child_env, run_process
from counterpoint.engine.runners.base import AgentContext, AgentFailed
from counterpoint.engine.runners.llm_models import TOOL_NAMES
from counterpoint.engine.workspace import ConsentDenied, ToolError, UnsafePath, agent_file

ALWAYS = ("emit_signal", "wait_for_signal")
MAX_LINE_CHARS = 2000
MAX_COMMAND_OUTPUT = 12_000
DEFAULT_COMMAND_TIMEOUT = 120.0
MAX_COMMAND_TIMEOUT = 900.0


class LineStream:
    """Coalesces streamed text pieces into whole lines for ``ctx.output``."""

    def __init__(self, output: Callable[[str], None]) -> None:
        self.output = output
        self.pending = ""

    def feed(self, text: str) -> None:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.output(line)
        while len(self.pending) > MAX_LINE_CHARS:
            self.output(self.pending[:MAX_LINE_CHARS])
            self.pending = self.pending[MAX_LINE_CHARS:]

    def flush(self) -> None:
        if self.pending:
            self.output(self.pending)
            self.pending = ""

    def follow(
        self,
        event: Any,
        *,
        said: Callable[[str], None] | None = None,
        called: Callable[[str, object], None] | None = None,
    ) -> None:
        """One streamed event of a model response (pydantic-ai): its text fed as it comes; at the
        end of a part the pending line flushed, a whole text part handed to ``said``, a tool call
        (name, args) to ``called``."""
        from pydantic_ai.messages import (
            PartDeltaEvent,
            PartEndEvent,
            PartStartEvent,
            TextPart,
            TextPartDelta,
            ToolCallPart,
        )

        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            self.feed(event.part.content)
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            self.feed(event.delta.content_delta)
        elif isinstance(event, PartEndEvent):
            self.flush()
            if isinstance(event.part, TextPart) and said is not None:
                said(event.part.content)
            elif isinstance(event.part, ToolCallPart) and called is not None:
                called(event.part.tool_name, event.part.args)


class TranscriptRecorder:
    """The session as replay steps; the time between steps becomes ``think`` steps."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.steps: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def step(self, action: str, **fields: Any) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self._last
        self._last = now
        if elapsed >= 0.001:
            self.steps.append({"action": "think", "seconds": round(elapsed, 3)})
        self.steps.append({"action": action, **fields})

    def text(self) -> str:
        return "".join(json.dumps(step, ensure_ascii=False) + "\n" for step in self.steps)


def transcript_path(ctx: AgentContext) -> Path:
    """Where ``--record`` saves the agent's transcript (AgentFailed for a name that cannot be a file name)."""
    try:
        return agent_file(ctx.workspace_root, ctx.run_id, "transcripts", ctx.name, ".jsonl")
    except UnsafePath as exc:
        raise AgentFailed(str(exc)) from exc


def short_args(args: object, limit: int = 120) -> str:
    """A one-line preview of a tool call's arguments (a JSON string or a mapping)."""
    if isinstance(args, str):
        try:
            args = json.loads(args) if args else {}
        except ValueError:
            return str(args)[:limit]
    if not isinstance(args, dict):
        return "" if args is None else str(args)[:limit]
    parts = []
    for key, value in args.items():
        text = value if isinstance(value, str) else json.dumps(value)
        text = text.replace("\n", "\\n")
        parts.append(f"{key}={text[:40]}{'...' if len(text) > 40 else ''}")
    line = ", ".join(parts)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def make_tools(ctx: AgentContext, allowed: tuple[str, ...] | None, recorder: TranscriptRecorder) -> list[Any]:
    """pydantic-ai tools for this agent (``allowed`` None: all of them)."""
    from pydantic_ai import ModelRetry, Tool

    actor = ctx.name
    tools = ctx.tools

    async def read_file(path: str) -> str:
        """Read a text file of the workspace. Paths are relative to the spec's folder."""
        try:
            return await tools.read_file(actor, path)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc

    async def list_files(path: str = ".", pattern: str | None = None) -> str:
        """List the files under a folder (recursively), optionally only those matching a glob."""
        try:
            found = await tools.list_files(actor, path, pattern)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc
        return "\n".join(found) if found else "(no files)"

    async def search(text: str, path: str = ".") -> str:
        """Find the lines containing `text` (plain, case-sensitive) in the files under `path`."""
        try:
            hits = await tools.search(actor, text, path)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc
        return "\n".join(f"{h['path']}:{h['line']}: {h['text']}" for h in hits) if hits else "(no matches)"

    async def write_file(path: str, content: str) -> str:
        """Create or overwrite a file with the whole `content`."""
        try:
            result = await tools.write_file(actor, path, content)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc
        recorder.step("write_file", path=path, content=content)
        return f"wrote {result['path']} ({result['bytes']} bytes)"

    async def edit_file(path: str, search: str, replace: str) -> str:
        """Replace the one exact occurrence of `search` in the file by `replace`."""
        try:
            result = await tools.edit_file(actor, path, search, replace)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc
        recorder.step("edit_file", path=path, search=search, replace=replace)
        return f"edited {result['path']}"

    async def run_command(command: str, timeout_s: float | None = None) -> str:
        """Run a shell command in the agent's working folder; returns its exit code and output."""
        try:
            await ctx.consent.require(command)
        except ConsentDenied as exc:
            raise AgentFailed(str(exc)) from exc
        ctx.output(f"$ {command}")
        lines: list[str] = []

        def collect(line: str) -> None:
            ctx.output(line)
            lines.append(line)

        limit = min(MAX_COMMAND_TIMEOUT, timeout_s or DEFAULT_COMMAND_TIMEOUT)
        try:
            result = await run_process(
                command, cwd=ctx.cwd, env=child_env(ctx.env), on_stdout=collect, timeout=limit
            )
        except TimeoutError:
            await ctx.record("tool_call", "run_command", {"args": {"command": command}, "error": "timed out"})
            raise ModelRetry(f"`{command}` timed out after {limit:g} s") from None
        await ctx.record(
            "tool_call",
            "run_command",
            {"args": {"command": command}, "exit_code": result.exit_code},
        )
        if result.exit_code == 0:
            recorder.step("run", command=command)
        output = "\n".join(lines)
        if len(output) > MAX_COMMAND_OUTPUT:
            output = "[...]\n" + output[-MAX_COMMAND_OUTPUT:]
        return f"exit code {result.exit_code}\n{output}"

    async def emit_signal(name: str, metadata: dict[str, Any] | None = None) -> str:
        """Fire a signal of the run (other agents may be waiting for it), with optional metadata."""
        await ctx.emit_signal(name, dict(metadata or {}))
        recorder.step("emit", signal=name, metadata=dict(metadata or {}))
        return f"signal {name} fired"

    async def wait_for_signal(name: str, timeout_s: float | None = None) -> str:
        """Wait until a signal of the run fires (or the timeout passes); returns its metadata."""
        try:
            metadata = await ctx.wait_for_signal(name, timeout_s)
        except TimeoutError:
            return f"signal {name} did not fire within {timeout_s:g} s"
        recorder.step("wait", signal=name, timeout=timeout_s)
        return f"signal {name} fired: {json.dumps(metadata)}"

    functions: dict[str, Callable[..., Awaitable[str]]] = {
        "read_file": read_file,
        "list_files": list_files,
        "search": search,
        "write_file": write_file,
        "edit_file": edit_file,
        "run_command": run_command,
        "emit_signal": emit_signal,
        "wait_for_signal": wait_for_signal,
    }
    names = [n for n in TOOL_NAMES if allowed is None or n in allowed or n in ALWAYS]
    return [Tool(functions[n], name=n, takes_ctx=False, max_retries=4) for n in names]

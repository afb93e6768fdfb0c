"""The replay runner: plays a recorded JSONL transcript through the workspace tools.

One JSON object a line, by ``action`` (the models are in `counterpoint_protocol.transcript`):
``think`` {seconds, text}, ``say`` {text}, ``write_file`` {path, content},
``edit_file`` {path, search, replace}, ``read_file`` {path},
``run`` {command} (needs consent), ``emit`` {signal, metadata},
``wait`` {signal, timeout}, ``fail`` {message}.
The whole transcript is read and validated before the first step: a transcript
outside the workspace (symlinks resolved) or a bad line fails the agent with one
line naming ``file:line``, and nothing has been done. Durations are divided by ``speed``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiofiles
from counterpoint_protocol.transcript import (
    EditFile,
    Emit,
    Fail,
    ReadFile,
    RunCommand,
    Say,
    Think,
    TranscriptStep,
    Wait,
    WriteFile,
    parse_transcript,
)

from counterpoint.engine.process import child_env, run_process
from counterpoint.engine.runners.base import AgentContext, AgentFailed, Runner, allow_command
from counterpoint.engine.workspace import ToolError, UnsafePath, confine


async def load_transcript(path: Path, root: Path) -> list[tuple[int, TranscriptStep]]:
    """The transcript's steps with their line numbers; AgentFailed (one line) if it cannot be used."""
    try:
        real = await asyncio.to_thread(confine, path, root, "transcript")
    except UnsafePath as exc:
        raise AgentFailed(str(exc)) from exc
    try:
        async with aiofiles.open(real, encoding="utf-8", errors="replace") as fh:
            text = await fh.read()  # one read: iterating lines would be a thread hop per line
    except FileNotFoundError as exc:
        raise AgentFailed(f"transcript not found: {path}") from exc
    except OSError as exc:
        raise AgentFailed(f"cannot read the transcript {path}: {exc.strerror or exc}") from exc
    steps, problems = parse_transcript(text)
    if problems:
        first = problems[0]
        more = (
            f" (and {len(problems) - 1} more bad lines: see `counterpoint check`)"
            if len(problems) > 1
            else ""
        )
        raise AgentFailed(f"{path.name}:{first.line}: {first.message}{more}")
    return steps


class ReplayRunner(Runner):
    name = "replay"

    async def run(self, ctx: AgentContext) -> None:
        transcript = ctx.agent.settings.transcript
        if not transcript:
            raise AgentFailed("replay runner needs `transcript:`")
        steps = await load_transcript(ctx.spec_dir / transcript, ctx.workspace_root)
        speed = ctx.agent.settings.speed or ctx.speed or 1.0
        for line, step in steps:
            await self._step(ctx, step, line, speed)

    async def _step(self, ctx: AgentContext, step: TranscriptStep, line: int, speed: float) -> None:
        where = f"transcript line {line}"
        try:
            match step:
                case Think():
                    if step.text:
                        ctx.output(step.text)
                    await asyncio.sleep(step.seconds / speed)
                case Say():
                    for text in step.text.splitlines() or [""]:
                        ctx.output(text)
                case WriteFile():
                    await ctx.tools.write_file(ctx.name, step.path, step.content)
                    ctx.output(f"wrote {step.path}")
                case EditFile():
                    await ctx.tools.edit_file(ctx.name, step.path, step.search, step.replace)
                    ctx.output(f"edited {step.path}")
                case ReadFile():
                    await ctx.tools.read_file(ctx.name, step.path)
                case RunCommand():
                    await self._run_command(ctx, step.command, where)
                case Emit():
                    await ctx.emit_signal(step.signal, dict(step.metadata or {}))
                case Wait():
                    await ctx.wait_for_signal(step.signal, step.timeout or None)
                case Fail():
                    raise AgentFailed(step.message or "the transcript says this agent fails")
        except ToolError as exc:
            raise AgentFailed(f"{where}: {exc}") from exc
        except TimeoutError as exc:
            raise AgentFailed(
                f"{where}: timed out waiting for signal {getattr(step, 'signal', '')!r}"
            ) from exc

    async def _run_command(self, ctx: AgentContext, command: str, where: str) -> None:
        await allow_command(ctx, command, where)
        ctx.output(f"$ {command}")
        result = await run_process(command, cwd=ctx.cwd, env=child_env(ctx.env), on_stdout=ctx.output)
        await ctx.record("tool_call", "run_command", {"command": command, "exit_code": result.exit_code})
        if result.exit_code != 0:
            raise AgentFailed(f"{where}: `{command}` exited with {result.exit_code}")

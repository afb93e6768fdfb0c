"""The replay runner: plays a recorded JSONL transcript through the workspace tools.

One JSON object a line, by ``action``:
``think`` {seconds}, ``say`` {text}, ``write_file`` {path, content},
``edit_file`` {path, search, replace}, ``read_file`` {path},
``run`` {command} (needs consent), ``emit`` {signal, metadata},
``wait`` {signal, timeout}, ``fail`` {message}.
Bad lines are skipped with a message; durations are divided by ``speed``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiofiles

from counterpoint.engine.consent import ConsentDenied
from counterpoint.engine.process import child_env, run_process
from counterpoint.engine.runners.base import AgentContext, AgentFailed, Runner
from counterpoint.engine.workspace import ToolError

ACTIONS = ("think", "say", "write_file", "edit_file", "read_file", "run", "emit", "wait", "fail")


async def load_transcript(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The transcript's steps, and a message for each line that could not be used."""
    steps: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        async with aiofiles.open(path, encoding="utf-8", errors="replace") as fh:
            text = await fh.read()  # one read: iterating lines would be a thread hop per line
    except FileNotFoundError as exc:
        raise AgentFailed(f"transcript not found: {path}") from exc
    # Only \n ends a JSONL line (splitlines would also split on U+2028 etc. inside JSON strings).
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            step = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}:{number}: not JSON ({exc.msg}); line skipped")
            continue
        if not isinstance(step, dict) or step.get("action") not in ACTIONS:
            problems.append(f"{path.name}:{number}: unknown action; line skipped")
            continue
        step["_line"] = number
        steps.append(step)
    return steps, problems


class ReplayRunner(Runner):
    name = "replay"

    async def run(self, ctx: AgentContext) -> None:
        transcript = ctx.agent.settings.transcript
        if not transcript:
            raise AgentFailed("replay runner needs `transcript:`")
        steps, problems = await load_transcript(ctx.spec_dir / transcript)
        for problem in problems:
            ctx.output(f"warning: {problem}")
        speed = ctx.agent.settings.speed or ctx.speed or 1.0
        for step in steps:
            await self._step(ctx, step, speed)

    async def _step(self, ctx: AgentContext, step: dict[str, Any], speed: float) -> None:
        action = step["action"]
        where = f"transcript line {step['_line']}"
        try:
            if action == "think":
                seconds = float(step.get("seconds", 0))
                if step.get("text"):
                    ctx.output(str(step["text"]))
                await asyncio.sleep(max(0.0, seconds) / speed)
            elif action == "say":
                for line in str(step.get("text", "")).splitlines() or [""]:
                    ctx.output(line)
            elif action == "write_file":
                await ctx.tools.write_file(ctx.name, str(step["path"]), str(step.get("content", "")))
                ctx.output(f"wrote {step['path']}")
            elif action == "edit_file":
                await ctx.tools.edit_file(
                    ctx.name, str(step["path"]), str(step["search"]), str(step["replace"])
                )
                ctx.output(f"edited {step['path']}")
            elif action == "read_file":
                await ctx.tools.read_file(ctx.name, str(step["path"]))
            elif action == "run":
                await self._run_command(ctx, str(step["command"]), where)
            elif action == "emit":
                await ctx.emit_signal(str(step["signal"]), dict(step.get("metadata") or {}))
            elif action == "wait":
                timeout = step.get("timeout")
                await ctx.wait_for_signal(str(step["signal"]), float(timeout) if timeout else None)
            elif action == "fail":
                raise AgentFailed(str(step.get("message", "the transcript says this agent fails")))
        except ToolError as exc:
            raise AgentFailed(f"{where}: {exc}") from exc
        except KeyError as exc:
            ctx.output(f"warning: {where}: {action} without {exc.args[0]!r}; step skipped")
        except TimeoutError as exc:
            raise AgentFailed(f"{where}: timed out waiting for signal {step.get('signal')!r}") from exc

    async def _run_command(self, ctx: AgentContext, command: str, where: str) -> None:
        try:
            await ctx.consent.require(command)
        except ConsentDenied as exc:
            raise AgentFailed(str(exc)) from exc
        ctx.output(f"$ {command}")
        result = await run_process(command, cwd=ctx.cwd, env=child_env(ctx.env), on_stdout=ctx.output)
        await ctx.record("tool_call", "run_command", {"command": command, "exit_code": result.exit_code})
        if result.exit_code != 0:
            raise AgentFailed(f"{where}: `{command}` exited with {result.exit_code}")

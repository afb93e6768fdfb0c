"""The command runner: an agent that is a subprocess.

The task (and shared context) goes to its stdin and to environment variables;
each stdout line is agent output; a line ``::signal NAME {json}`` fires a
signal; a non-zero exit fails the agent. Timeout and cancel kill the whole
process group. Presets give ready command lines for common coding CLIs.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from counterpoint_protocol.presets import RUNNER_PRESETS

from counterpoint.engine.process import child_env, run_process
from counterpoint.engine.runners.base import AgentContext, AgentFailed, Runner, allow_command
from counterpoint.engine.workspace import UnsafePath, agent_file

SIGNAL_PREFIX = "::signal "

PRESETS: dict[str, str] = RUNNER_PRESETS["command"]
"""``preset:`` name -> command line (the table, shared with the editors, is in the protocol)."""


def parse_signal_line(line: str) -> tuple[str, dict[str, Any]] | None:
    """``::signal NAME {json}`` -> (NAME, metadata); None if the line is not a signal line."""
    if not line.startswith(SIGNAL_PREFIX):
        return None
    rest = line[len(SIGNAL_PREFIX) :].strip()
    name, _, payload = rest.partition(" ")
    if not name:
        return None
    metadata: dict[str, Any] = {}
    if payload.strip():
        try:
            parsed = json.loads(payload)
            metadata = parsed if isinstance(parsed, dict) else {"value": parsed}
        except json.JSONDecodeError:
            metadata = {"text": payload.strip()}
    return name, metadata


def env_value(text: str, max_bytes: int = 100_000) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8: Linux refuses to start a child with an environment
    string over 128 KiB (E2BIG), and a character limit lets non-ASCII text exceed it."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def agent_prompt(ctx: AgentContext) -> str:
    parts = []
    if ctx.shared_context.files:
        parts.append("# Shared context\n\n" + ctx.shared_context.text)
    parts.append(f"# Task for agent {ctx.name}\n\n{ctx.task.strip()}\n")
    return "\n".join(parts)


def task_file_path(ctx: AgentContext) -> Path:
    """The agent's task file; AgentFailed if its name would leave its place."""
    try:
        return agent_file(ctx.workspace_root, ctx.run_id, "tasks", ctx.name, ".md")
    except UnsafePath as exc:
        raise AgentFailed(str(exc)) from exc


class CommandRunner(Runner):
    name = "command"
    starts_process = True

    async def run(self, ctx: AgentContext) -> None:
        settings = ctx.agent.settings
        command = settings.command or PRESETS.get(settings.preset or "")
        if not command:
            raise AgentFailed("command runner needs `command:` or a known `preset:`")
        await allow_command(ctx, command)
        task_file = await asyncio.to_thread(task_file_path, ctx)

        prompt = agent_prompt(ctx)
        await asyncio.to_thread(task_file.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(task_file.write_text, prompt, "utf-8")
        env = child_env(
            {
                "COUNTERPOINT_RUN_ID": ctx.run_id,
                "COUNTERPOINT_AGENT": ctx.name,
                "COUNTERPOINT_TASK": env_value(ctx.task.strip()),
                "COUNTERPOINT_TASK_FILE": str(task_file),
                "COUNTERPOINT_SPEC": str(ctx.spec.path),
                "COUNTERPOINT_WORKSPACE": str(ctx.workspace_root),
                "COUNTERPOINT_ATTEMPT": str(ctx.attempt),
                **settings.env,
            }
        )
        pending: list[asyncio.Task[None]] = []

        def on_stdout(line: str) -> None:
            parsed = parse_signal_line(line)
            if parsed is None:
                ctx.output(line)
                return
            pending.append(asyncio.ensure_future(ctx.emit_signal(*parsed)))

        result = await run_process(
            command,
            cwd=ctx.cwd,
            env=env,
            on_stdout=on_stdout,
            on_stderr=ctx.output,
            stdin=prompt.encode("utf-8"),
            timeout=None,
            on_spawn=lambda _pid: ctx.began(),
        )
        if pending:
            await asyncio.gather(*pending)
        if result.exit_code != 0:
            last = next(
                # The last stderr line says why, most often; stdout's only if stderr is silent.
                (
                    line
                    for line in [*reversed(result.stderr_tail), *reversed(result.stdout_tail)]
                    if line.strip()
                ),
                "",
            )
            detail = f": {last}" if last else ""
            raise AgentFailed(
                f"`{shlex.split(command)[0] if command.strip() else command}` exited with {result.exit_code}{detail}"
            )

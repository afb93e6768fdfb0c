"""The ACP runner: drive an external coding agent over the Agent Client Protocol.

Counterpoint is the ACP client (the ``agent-client-protocol`` SDK, imported
lazily). The agent's ``command`` runs, with the user's consent, in its own
process group (killed with the server, the run or the agent), its stdio being
the ACP transport: initialize (we offer fs read and write, no terminal), one
session in the agent's folder, the task and shared context as the prompt.

What the agent streams (``session/update``) becomes agent output lines;
``fs/read_text_file`` and ``fs/write_text_file`` go through the confined,
recorded workspace tools, so every write is attributed to this agent and no
path leaves the workspace; permission requests are answered by the policy in
``acp_permission`` (see `choose_permission`). A turn ending with anything but
``end_turn`` fails the agent; cancel sends ``session/cancel``, waits briefly,
then kills the process group. ``preset:`` names a ready command line for a
known agent (`ACP_PRESETS`).

When the agent fails (an error answer, its process gone, no answer in time),
the failure quotes its last stderr lines (`StderrTail`): real adapters answer
"Query closed before response received" and say why only on stderr.

This module holds the runner and the session (process, connection, handshake,
prompt, cancel, stop); the client side the agent calls back into, with the
permission policy and `LineBuffer`, lives in
`counterpoint.engine.runners.acp_client` (its public names are re-exported here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from counterpoint_protocol.presets import RUNNER_PRESETS

from counterpoint.engine.process.spawn import (
    _pump,
    child_env,
    kill_group,
    release_group,
    spawn_shell,
)
from counterpoint.engine.runners.acp_client import (
    PERMISSION_POLICIES,
    SAFE_KINDS,
    CounterpointClient,
    LineBuffer,
    PermissionDecision,
    StderrTail,
    choose_permission,
)
from counterpoint.engine.runners.base import AgentContext, AgentFailed, Runner, allow_command
from counterpoint.engine.runners.command import agent_prompt
from counterpoint.engine.workspace import Redactor, is_secret_key

if TYPE_CHECKING:
    from acp import Client

    from counterpoint.engine.process import Child

__all__ = [
    "ACP_PRESETS",
    "CANCEL_GRACE",
    "HANDSHAKE_TIMEOUT",
    "PERMISSION_POLICIES",
    "SAFE_KINDS",
    "STDIO_LIMIT",
    "ACPRunner",
    "CounterpointClient",
    "LineBuffer",
    "PermissionDecision",
    "StderrTail",
    "choose_permission",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

ACP_PRESETS: dict[str, str] = RUNNER_PRESETS["acp"]
"""``preset:`` name -> the command that starts that ACP agent (table in the protocol)."""
HANDSHAKE_TIMEOUT = 120.0
"""Seconds for initialize + session/new (``npx`` may first download the adapter)."""
CANCEL_GRACE = 2.0
"""Seconds the agent gets to end its turn after ``session/cancel`` before its group is killed."""
STDIO_LIMIT = 50 * 1024 * 1024
"""Largest JSON-RPC line read from the agent (file contents travel inside one line)."""


class ACPRunner(Runner):
    """Runs an agent that speaks ACP on stdio (``runner: acp`` with ``command:``)."""

    name = "acp"
    starts_process = True

    async def run(self, ctx: AgentContext) -> None:
        settings = ctx.agent.settings
        command = (settings.command or ACP_PRESETS.get(settings.preset or "", "")).strip()
        if not command:
            raise AgentFailed(
                "acp runner needs `command:` (how to start the ACP agent) or a known `preset:` ("
                + ", ".join(ACP_PRESETS)
                + ")"
            )
        await allow_command(ctx, command)
        try:
            import acp  # noqa: F401  (lazy: only ACP agents pay for the SDK)
        except ImportError as exc:
            raise AgentFailed(
                "runner: acp needs the agent-client-protocol package: pip install counterpoint[acp]"
            ) from exc
        await _Session(ctx, command).run()


class _Failure(Exception):
    """Why the session failed, before the agent's stderr is quoted (`_Session.explain`)."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class _Session:
    """One agent process and its ACP connection, from start to a clean end."""

    def __init__(self, ctx: AgentContext, command: str) -> None:
        self.ctx = ctx
        self.command = command
        self.client = CounterpointClient(ctx)
        secrets = [value for key, value in ctx.env.items() if is_secret_key(key)]
        self.stderr = StderrTail(Redactor(secrets))
        self.proc: Child | None = None

    async def run(self) -> None:
        from acp import PROTOCOL_VERSION, connect_to_agent, text_block
        from acp.schema import ClientCapabilities, FileSystemCapabilities, Implementation

        ctx = self.ctx
        env = child_env(
            {
                "COUNTERPOINT_RUN_ID": ctx.run_id,
                "COUNTERPOINT_AGENT": ctx.name,
                "COUNTERPOINT_WORKSPACE": str(ctx.workspace_root),
                "COUNTERPOINT_ATTEMPT": str(ctx.attempt),
                **ctx.env,
            }
        )
        try:
            proc = await spawn_shell(
                self.command,
                cwd=ctx.cwd,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=STDIO_LIMIT,
            )
        except OSError as exc:
            raise AgentFailed(f"could not start {self.command!r}: {exc}") from exc
        self.proc = proc
        ctx.began()
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.ensure_future(_pump(proc.stderr, self._stderr_line, []))
        conn = connect_to_agent(cast("Client", self.client), proc.stdin, proc.stdout)
        prompt_task: asyncio.Future[Any] | None = None
        failure: _Failure | None = None
        try:
            try:
                version = _counterpoint_version()
                await self._call(
                    "initialize",
                    conn.initialize(
                        protocol_version=PROTOCOL_VERSION,
                        client_capabilities=ClientCapabilities(
                            fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
                            terminal=False,
                        ),
                        client_info=Implementation(
                            name="counterpoint", title="Counterpoint", version=version
                        ),
                    ),
                    HANDSHAKE_TIMEOUT,
                )
                session = await self._call(
                    "session/new",
                    conn.new_session(cwd=str(await asyncio.to_thread(ctx.cwd.resolve)), mcp_servers=[]),
                    HANDSHAKE_TIMEOUT,
                )
                self.client.session_id = session.session_id
                prompt_task = asyncio.ensure_future(
                    conn.prompt(session_id=session.session_id, prompt=[text_block(agent_prompt(ctx))])
                )
                response = await self._call("session/prompt", prompt_task, None)
                reason = response.stop_reason
                if reason != "end_turn":  # the agent's own answer: its stderr adds nothing
                    raise AgentFailed(_STOP_REASONS.get(reason, f"the ACP agent stopped: {reason}"))
            except _Failure as exc:
                failure = exc
            finally:
                self.client.flush()
        except asyncio.CancelledError:
            await self._cancel(conn, prompt_task)
            raise
        finally:
            if prompt_task is not None and not prompt_task.done():
                prompt_task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            await self._stop(proc)
            with contextlib.suppress(Exception):  # the process is gone: the rest of stderr is in the pipe
                await asyncio.wait_for(stderr_task, 2)
            stderr_task.cancel()
            self.client.flush()
        if failure is not None:
            raise AgentFailed(self.explain(failure)) from failure

    def explain(self, failure: _Failure) -> str:
        """The failure with the agent's last stderr lines: first if it exited non-zero (they say
        why), after the protocol's view of it otherwise."""
        tail = self.stderr.text()
        if not tail:
            return failure.message
        if failure.exit_code:
            return f"{tail} ({failure.message})"
        return f"{failure.message}; its stderr: {tail}"

    def _stderr_line(self, line: str) -> None:
        if line.strip():
            self.ctx.output(f"stderr: {line}")
            self.stderr.add(line)

    async def _call(self, what: str, request: Awaitable[T], limit_s: float | None) -> T:
        """Await an ACP request; `_Failure` on an error answer, the process gone or the timeout."""
        from acp import RequestError

        assert self.proc is not None
        task = asyncio.ensure_future(request)
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            done, _ = await asyncio.wait({task, exited}, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
            if task not in done and exited in done:
                # A last answer may still be in the pipe.
                done, _ = await asyncio.wait({task}, timeout=1.0)
            if task in done:
                try:
                    return task.result()
                except ConnectionError:
                    await self._fail_exited(what)
                except RequestError as exc:
                    raise _Failure(_describe_request_error(what, exc)) from exc
            if exited.done():
                await self._fail_exited(what)
            task.cancel()
            raise _Failure(
                f"no ACP answer to {what} within {limit_s:g} s (is {self.command!r} an ACP agent?)"
            )
        finally:
            exited.cancel()
            if what != "session/prompt" and not task.done():
                task.cancel()

    async def _fail_exited(self, what: str) -> NoReturn:
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), 2)
        code = self.proc.returncode
        if code is None:
            raise _Failure(f"the ACP agent closed its connection during {what}")
        raise _Failure(f"the ACP agent exited with {code} during {what}", exit_code=code)

    async def _cancel(self, conn: Any, prompt_task: asyncio.Future[Any] | None) -> None:
        """session/cancel, a short wait for the turn to end, then the process group goes."""
        self.client.cancelling = True
        session_id = self.client.session_id
        if session_id is None or prompt_task is None or prompt_task.done():
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.cancel(session_id=session_id), 1)
        with contextlib.suppress(Exception):
            done, _ = await asyncio.wait({prompt_task}, timeout=CANCEL_GRACE)
            if prompt_task in done and not prompt_task.cancelled() and not prompt_task.exception():
                reason = getattr(prompt_task.result(), "stop_reason", "?")
                self.ctx.output(f"cancelled (the agent ended its turn: {reason})")

    async def _stop(self, proc: Child) -> None:
        """End the agent: close its stdin, then SIGTERM and SIGKILL its whole process group."""
        pgid = proc.pid
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 0.5)
        kill_group(pgid, signal.SIGTERM)
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 2)
        kill_group(pgid, signal.SIGKILL)
        release_group(pgid)
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 2)


_STOP_REASONS = {
    "refusal": "the ACP agent refused the task (stop reason: refusal)",
    "max_tokens": "the ACP agent ran out of tokens (stop reason: max_tokens)",
    "max_turn_requests": ("the ACP agent hit its limit of model requests (stop reason: max_turn_requests)"),
    "cancelled": "the ACP agent cancelled its turn (stop reason: cancelled)",
}


def _describe_request_error(what: str, exc: Exception) -> str:
    code = getattr(exc, "code", None)
    data = getattr(exc, "data", None)
    details = data.get("details") or data.get("message") if isinstance(data, dict) else data
    text = f"the ACP agent answered {what} with an error: {exc}" + (f" ({details})" if details else "")
    if code == -32000:
        text += "; log in with the agent's own CLI first (Counterpoint does not do ACP auth)"
    return text


def _counterpoint_version() -> str:
    try:
        from counterpoint import __version__

        return str(__version__)
    except ImportError:
        return "0"

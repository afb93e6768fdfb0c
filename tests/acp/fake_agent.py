"""A fake ACP agent for the ACP runner's tests, built with the SDK's agent side.

Run as ``python tests/acp/fake_agent.py SCENARIO [ARG]``; it speaks ACP on
stdio. Scenarios:

- ``write [strict]``: reads ``input.txt`` through ``fs/read_text_file``, streams a
  message, asks permission to edit, writes ``output.txt`` (the input in upper
  case) through ``fs/write_text_file``, shows a plan, ends with ``end_turn``;
  denied, it ends with ``end_turn`` (``refusal`` if ``strict``).
- ``escape ARG``: asks permission to edit the absolute path ARG (outside the
  workspace), writes it anyway, reports the client's answer, ends ``end_turn``.
- ``slow``: says its pid, then streams a line every 20 ms for a minute;
  honours ``session/cancel`` (stop reason ``cancelled``).
- ``stubborn``: starts a ``sleep`` child, says both pids, ignores
  ``session/cancel`` (the client has to kill the whole process group).
- ``crash``: streams one chunk, writes to stderr, exits with 3 mid-prompt.
- ``refuse``: ends the prompt with stop reason ``refusal``.
- ``fail-init`` / ``fail-prompt``: writes the cause to stderr, then answers
  ``initialize`` / ``session/prompt`` with a bare JSON-RPC error ("Query closed
  before response received", as Claude Code's adapter does) and stays alive.

If ``FAKE_ACP_MARKER`` is set, the agent creates that file when it starts
(tests use it to prove that nothing was started).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any, cast

from acp import (
    PROTOCOL_VERSION,
    Agent,
    Client,
    InitializeResponse,
    NewSessionResponse,
    PromptResponse,
    RequestError,
    run_agent,
    start_edit_tool_call,
    update_agent_message_text,
    update_plan,
    update_tool_call,
)
from acp.helpers import plan_entry
from acp.schema import AgentCapabilities, Implementation, PermissionOption, ToolCallUpdate

STDERR_CAUSE = "--dangerously-skip-permissions cannot be used with root/sudo privileges"
QUERY_CLOSED = "Query closed before response received"


def _query_closed() -> RequestError:
    sys.stderr.write(f"Error: {STDERR_CAUSE}\n")
    sys.stderr.flush()
    return RequestError(-32603, QUERY_CLOSED)


class FakeAgent:
    """One scenario, one session at a time."""

    def __init__(self, scenario: str, arg: str | None) -> None:
        self.scenario = scenario
        self.arg = arg
        self.client: Client | None = None
        self.cwd = Path.cwd()
        self.cancelled = asyncio.Event()

    def on_connect(self, conn: Client) -> None:
        self.client = conn

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: Any = None,
        client_info: Any = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        if self.scenario == "fail-init":
            raise _query_closed()
        fs = client_capabilities.fs if client_capabilities is not None else None
        if fs is None or not (fs.read_text_file and fs.write_text_file):
            raise RequestError.invalid_params({"details": "this fake agent needs fs read and write"})
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(),
            agent_info=Implementation(name="fake-agent", version="1.0"),
        )

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kwargs: Any) -> NewSessionResponse:
        self.cwd = Path(cwd)
        return NewSessionResponse(session_id=uuid.uuid4().hex)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        self.cancelled.set()

    async def say(self, session_id: str, text: str) -> None:
        assert self.client is not None
        await self.client.session_update(session_id=session_id, update=update_agent_message_text(text))

    async def ask_edit(self, session_id: str, call_id: str, path: str) -> str:
        """Ask permission to edit ``path``; returns the option id chosen, or 'cancelled'."""
        assert self.client is not None
        await self.client.session_update(
            session_id=session_id,
            update=start_edit_tool_call(call_id, f"Write {Path(path).name}", path, "..."),
        )
        answer = await self.client.request_permission(
            session_id=session_id,
            tool_call=ToolCallUpdate(tool_call_id=call_id, title=f"Write {path}", kind="edit"),
            options=[
                PermissionOption(option_id="yes", name="Allow", kind="allow_once"),
                PermissionOption(option_id="always", name="Always allow", kind="allow_always"),
                PermissionOption(option_id="no", name="Reject", kind="reject_once"),
            ],
        )
        outcome = answer.outcome
        return outcome.option_id if outcome.outcome == "selected" else "cancelled"

    async def prompt(self, prompt: list[Any], session_id: str, **kwargs: Any) -> PromptResponse:
        assert self.client is not None
        text = "".join(getattr(block, "text", "") for block in prompt)
        if "# Task for agent" not in text:
            raise RequestError.invalid_params({"details": "the prompt lacks the task"})
        handler = getattr(self, "scenario_" + self.scenario.replace("-", "_"))
        stop_reason: Any = await handler(session_id)
        return PromptResponse(stop_reason=stop_reason)

    async def scenario_write(self, session_id: str) -> str:
        assert self.client is not None
        read = await self.client.read_text_file(session_id=session_id, path=str(self.cwd / "input.txt"))
        await self.say(session_id, f"Read {len(read.content)} chars from input.txt.\nWriting ")
        await self.say(session_id, "output.txt now.")
        target = str(self.cwd / "output.txt")
        choice = await self.ask_edit(session_id, "call-1", target)
        if choice not in ("yes", "always"):
            await self.say(session_id, f"\nnot allowed ({choice})")
            return "refusal" if self.arg == "strict" else "end_turn"
        await self.client.write_text_file(session_id=session_id, path=target, content=read.content.upper())
        await self.client.session_update(
            session_id=session_id, update=update_tool_call("call-1", status="completed")
        )
        await self.client.session_update(
            session_id=session_id,
            update=update_plan([plan_entry("write output.txt", status="completed")]),
        )
        await self.say(session_id, "\nDone.")
        return "end_turn"

    async def scenario_escape(self, session_id: str) -> str:
        assert self.client is not None and self.arg is not None
        choice = await self.ask_edit(session_id, "call-1", self.arg)
        await self.say(session_id, f"permission: {choice}\n")
        try:
            await self.client.write_text_file(session_id=session_id, path=self.arg, content="escaped\n")
        except RequestError as exc:
            await self.say(session_id, f"write refused: {exc}\n")
        else:
            await self.say(session_id, "write accepted\n")
        return "end_turn"

    async def scenario_slow(self, session_id: str) -> str:
        await self.say(session_id, f"pid={os.getpid()}\n")
        for tick in range(3000):
            if self.cancelled.is_set():
                return "cancelled"
            await self.say(session_id, f"tick {tick}\n")
            try:
                await asyncio.wait_for(self.cancelled.wait(), 0.02)
            except TimeoutError:
                pass
        return "end_turn"

    async def scenario_stubborn(self, session_id: str) -> str:
        child = await asyncio.create_subprocess_exec("sleep", "60")
        await self.say(session_id, f"pid={os.getpid()} child={child.pid}\n")
        for tick in range(3000):
            await self.say(session_id, f"tick {tick}\n")
            await asyncio.sleep(0.02)
        return "end_turn"

    async def scenario_crash(self, session_id: str) -> str:
        await self.say(session_id, "about to crash\n")
        sys.stderr.write("fake agent: something broke\n")
        sys.stderr.flush()
        os._exit(3)

    async def scenario_fail_prompt(self, session_id: str) -> str:
        raise _query_closed()

    async def scenario_refuse(self, session_id: str) -> str:
        await self.say(session_id, "I will not do that.\n")
        return "refusal"


def main() -> None:
    scenario = sys.argv[1] if len(sys.argv) > 1 else "write"
    arg = sys.argv[2] if len(sys.argv) > 2 else None
    marker = os.environ.get("FAKE_ACP_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    asyncio.run(run_agent(cast(Agent, FakeAgent(scenario, arg))))


if __name__ == "__main__":
    main()

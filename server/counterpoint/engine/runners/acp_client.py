"""The client side of an ACP connection: what Counterpoint serves to the agent.

`CounterpointClient` turns the agent's ``session/update`` stream into output
lines (via `LineBuffer`), serves ``fs/read_text_file`` and ``fs/write_text_file``
through the confined, recorded workspace tools, and answers permission requests
by the ``acp_permission`` policy (`choose_permission`). `StderrTail` keeps the
agent's last stderr lines (bounded, redacted) to explain a failure: real agents
often say why they failed only there. The SDK is imported lazily; the process and connection are driven by `counterpoint.engine.runners.acp`.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from counterpoint.engine.process import MAX_LINE
from counterpoint.engine.runners.base import AgentContext
from counterpoint.engine.workspace import Redactor, ToolError

if TYPE_CHECKING:
    from acp.schema import PermissionOption

PERMISSION_POLICIES = ("allow_once", "allow_always", "allow_all", "reject")
SAFE_KINDS = frozenset({"read", "edit", "delete", "move", "search", "think", "switch_mode"})
"""Tool kinds allowed by the default policies (when their paths are inside the workspace)."""
_PATH_KEYS = ("path", "file_path", "filePath", "abs_path", "notebook_path")


@dataclass
class PermissionDecision:
    option_id: str | None
    """The option chosen; None answers ``cancelled``."""
    kind: str
    reason: str


def choose_permission(
    policy: str, kind: str | None, outside: list[str], options: list[PermissionOption]
) -> PermissionDecision:
    """Answer a permission request by policy.

    ``allow_once`` (default) and ``allow_always`` allow file tools (read, edit,
    delete, move, search, ...) whose paths are all inside the workspace, picking
    that kind of option; ``allow_all`` allows any tool whose paths are inside;
    ``reject`` rejects everything. Anything else is rejected.
    """
    if policy not in PERMISSION_POLICIES:
        allow, reason = False, f"unknown acp_permission policy {policy!r}"
    elif policy == "reject":
        allow, reason = False, "policy rejects every request"
    elif outside:
        allow, reason = False, "outside the workspace or in its machinery: " + ", ".join(outside)
    elif policy != "allow_all" and (kind or "other") not in SAFE_KINDS:
        allow, reason = False, f"tool kind {kind or 'other'!r} needs acp_permission: allow_all"
    else:
        allow, reason = True, "inside the workspace"
    if allow:
        preferred = [
            policy if policy != "allow_all" else "allow_once",
            "allow_once",
            "allow_always",
        ]
    else:
        preferred = ["reject_once", "reject_always"]
    for wanted in preferred:
        for option in options:
            if option.kind == wanted:
                return PermissionDecision(option.option_id, option.kind, reason)
    return PermissionDecision(None, "cancelled", reason + " (no matching option offered)")


class LineBuffer:
    """Coalesces streamed text chunks into whole lines; blank lines are dropped."""

    def __init__(self, emit: Callable[[str], None], prefix: str = "") -> None:
        self.emit = emit
        self.prefix = prefix
        self.pending = ""

    def feed(self, text: str) -> None:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._line(line)
        if len(self.pending) > MAX_LINE:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = ""

    def _line(self, line: str) -> None:
        line = line.rstrip("\r")
        if line.strip():
            self.emit(self.prefix + line[:MAX_LINE])


STDERR_LINES = 20
"""How many of the agent's last non-blank stderr lines a failure message may quote."""
STDERR_BYTES = 4096
"""The most bytes of stderr a failure message quotes (the latest lines win)."""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class StderrTail:
    """A bounded ring of the agent's last stderr lines, redacted, to quote when it fails."""

    def __init__(self, redactor: Redactor, lines: int = STDERR_LINES, max_bytes: int = STDERR_BYTES) -> None:
        self.redactor = redactor
        self.max_bytes = max_bytes
        self.lines: deque[str] = deque(maxlen=lines)

    def add(self, line: str) -> None:
        text = _ANSI.sub("", line).strip()
        if text:
            cut = text.encode("utf-8")[: self.max_bytes].decode("utf-8", errors="ignore")
            self.lines.append(self.redactor.text(cut))

    def text(self) -> str:
        """The latest lines that fit in ``max_bytes``, oldest first, on one line ('' if none)."""
        picked: list[str] = []
        size = 0
        for line in reversed(self.lines):
            size += len(line.encode("utf-8")) + 3
            if size > self.max_bytes and picked:
                break
            picked.append(line)
        return " / ".join(reversed(picked))


@dataclass
class _ToolCallSeen:
    title: str = ""
    kind: str | None = None
    status: str | None = None
    paths: list[str] = field(default_factory=list)


def _paths_of(locations: Any, raw_input: Any) -> list[str]:
    paths = [str(loc.path) for loc in locations or [] if getattr(loc, "path", None)]
    if isinstance(raw_input, dict):
        paths += [str(raw_input[k]) for k in _PATH_KEYS if isinstance(raw_input.get(k), str)]
    return list(dict.fromkeys(paths))


class CounterpointClient:
    """The ACP client side for one agent: output, workspace files and permissions."""

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.session_id: str | None = None
        self.cancelling = False
        self.policy = str(ctx.options.get("acp_permission", "allow_once"))
        self.message = LineBuffer(ctx.output)
        self.thought = LineBuffer(ctx.output, "thinking: ")
        self.message_id: str | None = None
        self.tool_calls: dict[str, _ToolCallSeen] = {}
        self.plan: dict[str, str] = {}

    def flush(self) -> None:
        self.message.flush()
        self.thought.flush()

    def _check_session(self, session_id: str) -> None:
        from acp import RequestError

        if session_id != self.session_id:
            raise RequestError.invalid_params({"details": f"unknown session {session_id!r}"})

    # -- session/update --------------------------------------------------------------------------

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        kind = getattr(update, "session_update", "")
        if kind in ("agent_message_chunk", "agent_thought_chunk"):
            text = getattr(update.content, "text", None)
            if text is None:
                text = f"[{getattr(update.content, 'type', 'content')}]\n"
            message_id = getattr(update, "message_id", None)
            if message_id != self.message_id:
                self.flush()
                self.message_id = message_id
            if kind == "agent_message_chunk":
                self.thought.flush()
                self.message.feed(text)
            else:
                self.message.flush()
                self.thought.feed(text)
        elif kind in ("tool_call", "tool_call_update"):
            self.flush()
            self._tool_call(update, started=kind == "tool_call")
        elif kind == "plan":
            self.flush()
            self._plan(update.entries)

    def _tool_call(self, update: Any, *, started: bool) -> None:
        seen = self.tool_calls.setdefault(update.tool_call_id, _ToolCallSeen())
        changed = started
        if update.title and update.title != seen.title:
            seen.title, changed = update.title, True
        if update.kind:
            seen.kind = update.kind
        if update.status and update.status != seen.status:
            seen.status, changed = update.status, True
        seen.paths = _paths_of(update.locations, update.raw_input) or seen.paths
        if changed:
            self.ctx.output(f"tool: {seen.title or update.tool_call_id} ({seen.status or 'pending'})")

    def _plan(self, entries: list[Any]) -> None:
        current = {entry.content: entry.status for entry in entries}
        for content, status in current.items():
            if self.plan.get(content) != status:
                mark = {"completed": "x", "in_progress": "~"}.get(status, " ")
                self.ctx.output(f"plan: [{mark}] {content}")
        self.plan = current

    # -- fs ----------------------------------------------------------------------------------------

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        from acp import ReadTextFileResponse

        self._check_session(session_id)
        try:
            content = await self.ctx.tools.read_file(self.ctx.name, path)
        except ToolError as exc:
            raise _acp_error(exc) from exc
        if line is not None or limit is not None:
            lines = content.splitlines(keepends=True)
            start = max((line or 1) - 1, 0)
            content = "".join(lines[start : start + limit if limit is not None else None])
        return ReadTextFileResponse(content=content)

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> Any:
        from acp import WriteTextFileResponse

        self._check_session(session_id)
        try:
            await self.ctx.tools.write_file(self.ctx.name, path, content)
        except ToolError as exc:
            self.ctx.output(f"refused write: {exc}")
            raise _acp_error(exc) from exc
        return WriteTextFileResponse()

    # -- permissions -----------------------------------------------------------------------------

    def _refused(self, paths: list[str]) -> list[str]:
        """The paths the workspace tools refuse (outside it, or in its machinery); stats: a thread's work."""
        refused = []
        for path in paths:
            try:
                self.ctx.tools.resolve(path)
            except ToolError:
                refused.append(path)
        return refused

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[PermissionOption], **kwargs: Any
    ) -> Any:
        from acp import RequestPermissionResponse
        from acp.schema import AllowedOutcome, DeniedOutcome

        self._check_session(session_id)
        self.flush()
        seen = self.tool_calls.get(tool_call.tool_call_id, _ToolCallSeen())
        title = tool_call.title or seen.title or tool_call.tool_call_id
        kind = tool_call.kind or seen.kind
        paths = _paths_of(tool_call.locations, tool_call.raw_input) or seen.paths
        outside = await asyncio.to_thread(self._refused, paths)
        if self.cancelling:
            decision = PermissionDecision(None, "cancelled", "the turn is being cancelled")
        else:
            decision = choose_permission(self.policy, kind, outside, options)
        await self.ctx.record(
            "tool_call",
            "permission",
            {
                "title": title,
                "kind": kind,
                "paths": paths,
                "policy": self.policy,
                "decision": decision.kind,
                "option_id": decision.option_id,
                "reason": decision.reason,
            },
        )
        self.ctx.output(f"permission: {title} -> {decision.kind} ({decision.reason})")
        if decision.option_id is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=decision.option_id)
        )


def _acp_error(exc: ToolError) -> Exception:
    from acp import RequestError

    message = str(exc)
    if message.startswith("no such file"):
        return RequestError(-32002, message)
    if any(why in message for why in ("outside the workspace", "invalid path", "agents may not")):
        return RequestError(-32602, message)
    return RequestError(-32603, message)

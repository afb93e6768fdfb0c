"""The llm runner: an in-process coding agent on pydantic-ai, one asyncio task per agent.

``model: openai:<name>`` talks to any OpenAI-compatible Chat Completions endpoint,
``model: anthropic:<name>`` to Anthropic (see `llm_models` for endpoints, keys and
retries). The system prompt is the same for every agent of a run, byte for byte: the
fixed `SYSTEM_TEXT` and then the run's shared context, so that providers' prompt
caches hit (Anthropic gets a ``cache_control`` breakpoint right after it). The role,
the agent's name and its task come after, in the user message.

Text and tool calls stream into ``agent_output`` lines as they arrive; each response's
usage (input, output, cache read/write tokens) and cost go to a ``usage`` event; limits
(``max_requests``, ``max_tokens``, the run's ``budget_usd``) fail the agent with a clear
message. With ``options["record"]`` the session is saved as a replay transcript.
pydantic-ai is imported inside `LLMRunner.run`, so the server starts without it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import aiofiles

from counterpoint.engine.run.budget import BudgetExceeded, RunBudget
from counterpoint.engine.runners.base import AgentContext, AgentFailed, Runner
from counterpoint.engine.runners.llm_models import (
    Endpoint,
    Role,
    build_model,
    explain_model_error,
    load_role,
    resolve_endpoint,
)
from counterpoint.engine.runners.llm_tools import (
    LineStream,
    TranscriptRecorder,
    make_tools,
    short_args,
    transcript_path,
)
from counterpoint.engine.runners.pricing import PriceTable, TokenUsage
from counterpoint.engine.workspace import UnsafePath, agent_file

log = logging.getLogger(__name__)
DEFAULT_MAX_REQUESTS = 100
TOOL_RETRIES = 4

SYSTEM_TEXT = """\
You are a coding agent run by Counterpoint. Several agents work in parallel on the same \
workspace, each on its own task; they coordinate through signals.

Work with the tools you are given: read_file, list_files and search to look around; \
write_file (whole files) and edit_file (one exact, unique search/replace) to change files; \
run_command (when given) to run shell commands; emit_signal to tell the other agents that \
something is ready, and wait_for_signal to wait for them. Paths are relative to the spec's \
folder and must stay inside the workspace. Change only what your task asks for. When your \
task names signals to emit, emit each once its work is done. Finish with a short summary \
of what you did.

The shared context of this run follows; it is the same for every agent."""


def system_prompt(ctx: AgentContext) -> str:
    """The shared prefix: identical for every agent of the run."""
    shared = ctx.shared_context.text
    if not shared:
        return SYSTEM_TEXT + "\n\n(no shared context)\n"
    return f"{SYSTEM_TEXT}\n\n<shared-context>\n{shared}</shared-context>\n"


def user_prompt(ctx: AgentContext, role: Role | None) -> str:
    """What is this agent's own: its name, role, signals and task (after the shared prefix)."""
    settings = ctx.agent.settings
    parts = [f"You are the agent `{ctx.name}`."]
    if role is not None:
        parts.append(f'<role name="{role.name}">\n{role.prompt}\n</role>')
    if settings.emits:
        parts.append(
            "Emit these signals (emit_signal) when their work is done: " + ", ".join(settings.emits) + "."
        )
    parts.append(f"# Task\n\n{ctx.task.strip() or '(no task text)'}")
    return "\n\n".join(parts)


class _Session:
    """One agent's live session: streaming lines, usage accounting, the transcript."""

    def __init__(self, ctx: AgentContext, endpoint: Endpoint, prices: PriceTable, budget: RunBudget) -> None:
        self.ctx = ctx
        self.endpoint = endpoint
        self.prices = prices
        self.budget = budget
        self.lines = LineStream(ctx.output)
        self.recorder = TranscriptRecorder(bool(ctx.options.get("record")))
        self.requests = 0
        self.warned_price = False

    def on_stream_event(self, event: Any) -> None:
        def said(text: str) -> None:
            if text.strip():
                self.recorder.step("say", text=text)

        self.lines.follow(
            event, said=said, called=lambda name, args: self.ctx.output(f"> {name}({short_args(args)})")
        )

    def on_tool_event(self, event: Any) -> None:
        from pydantic_ai.messages import FunctionToolResultEvent

        if isinstance(event, FunctionToolResultEvent) and event.part.outcome != "success":
            content = event.part.content
            message = content if isinstance(content, str) else "invalid arguments"
            self.ctx.output(f"! {event.part.tool_name}: {message}")

    async def account(self, response: Any) -> None:
        """Record one response's usage and cost; fail the agent once the run's budget is spent."""
        self.requests += 1
        tokens = TokenUsage.of(response.usage)
        cost = self.prices.cost(self.endpoint.qualified, tokens)
        if cost is None and not self.warned_price:
            self.warned_price = True
            limit = " (the run's budget cannot count it)" if self.budget.limit is not None else ""
            self.ctx.output(
                f"warning: no price known for {self.endpoint.qualified}{limit}; add one to `prices`"
            )
        self.budget.charge(self.ctx.name, cost or 0.0)
        await self.ctx.record("usage", self.endpoint.qualified, tokens.event(cost))

    async def save_transcript(self, failure: str | None) -> None:
        if not self.recorder.enabled:
            return
        if failure:
            self.recorder.step("fail", message=failure)
        path = await asyncio.to_thread(transcript_path, self.ctx)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        async with aiofiles.open(path, "w", encoding="utf-8") as fh:
            await fh.write(self.recorder.text())
        self.ctx.output(f"transcript saved: {path}")


_HEAVY_MODULES = (
    "pydantic_ai",
    "pydantic_ai.models.openai",
    "pydantic_ai.providers.openai",
    "pydantic_ai.models.anthropic",
    "pydantic_ai.providers.anthropic",
)


_IMPORTING = threading.Lock()
"""One thread imports the heavy modules at a time: two agents' threads importing pydantic-ai at
once can see each other's partially initialised modules (its packages import each other)."""


_IMPORTED = threading.Event()
"""Set once every heavy module is imported completely (being in `sys.modules` is not enough:
a module is there from the moment its import starts)."""


def _import_heavy_modules() -> None:
    with _IMPORTING:
        for name in _HEAVY_MODULES:
            importlib.import_module(name)
        _IMPORTED.set()


async def preload() -> None:
    """Import pydantic-ai and the SDKs in a worker thread: the first import takes ~1 s."""
    if not _IMPORTED.is_set():
        await asyncio.to_thread(_import_heavy_modules)


class LLMRunner(Runner):
    name = "llm"

    async def run(self, ctx: AgentContext) -> None:
        settings = ctx.agent.settings
        # A name that cannot be a file name fails here, before anything runs (realpath: in a thread).
        await asyncio.to_thread(conversation_path, ctx)
        try:
            await preload()
        except ImportError as exc:
            raise AgentFailed(
                f"the llm runner needs pydantic-ai ({exc}): pip install 'counterpoint[llm]'"
            ) from exc
        role = (
            await asyncio.to_thread(load_role, ctx.workspace_root, settings.role) if settings.role else None
        )
        if role is not None and role.unknown_tools:
            ctx.output(
                f"warning: role {role.name}: tools without a Counterpoint equivalent: "
                + ", ".join(role.unknown_tools)
            )
        endpoint = resolve_endpoint(
            settings.model or (role.model if role else None), ctx.options.get("llm_settings")
        )
        prices = await asyncio.to_thread(PriceTable.load, ctx.options.get("prices"))
        budget = ctx.options.get("budget")
        if not isinstance(budget, RunBudget):
            budget = RunBudget(ctx.spec.budget_usd)  # without the run's shared one: this agent's own
        session = _Session(ctx, endpoint, prices, budget)
        failure: str | None = None
        try:
            await self._converse(ctx, session, role)
        except AgentFailed as exc:
            failure = str(exc)
            raise
        except asyncio.CancelledError:
            failure = "cancelled"
            raise
        finally:
            session.lines.flush()
            await session.save_transcript(failure)

    async def _converse(self, ctx: AgentContext, session: _Session, role: Role | None) -> None:
        from pydantic_ai import Agent
        from pydantic_ai.exceptions import (
            ModelAPIError,
            UnexpectedModelBehavior,
            UsageLimitExceeded,
        )
        from pydantic_ai.usage import UsageLimits

        settings = ctx.agent.settings
        endpoint = session.endpoint
        model_settings: dict[str, Any] = {}
        if endpoint.provider == "anthropic":
            # A breakpoint after the shared prefix (system), and one on the newest message.
            model_settings = {
                "anthropic_cache_instructions": True,
                "anthropic_cache_messages": True,
            }
        model, client = build_model(endpoint)
        agent: Agent[None, str] = Agent(
            model,
            system_prompt=system_prompt(ctx),
            tools=make_tools(ctx, role.tools if role else None, session.recorder),
            retries=TOOL_RETRIES,
            model_settings=model_settings or None,  # type: ignore[arg-type]
            name=ctx.name,
        )
        limits = UsageLimits(
            request_limit=settings.max_requests or DEFAULT_MAX_REQUESTS,
            total_tokens_limit=settings.max_tokens,
        )
        conversation = await asyncio.to_thread(conversation_path, ctx)
        history = await load_conversation(conversation) if ctx.options.get("resumed") == "resume" else None
        if history:
            ctx.output(f"{endpoint.qualified}: resuming its conversation ({len(history)} messages)")
        else:
            ctx.output(f"{endpoint.qualified}: starting" + (f" as {role.name}" if role else ""))
        prompt = None if history else user_prompt(ctx, role)
        try:
            async with agent.iter(prompt, message_history=history, usage_limits=limits) as run:
                async for node in run:
                    # Keep the conversation so far on disk: a resumed run continues from it.
                    pending = [node.request] if Agent.is_model_request_node(node) else []
                    await save_conversation(conversation, [*run.all_messages(), *pending])
                    if Agent.is_model_request_node(node):
                        session.budget.check()
                        async with node.stream(run.ctx) as stream:
                            async for event in stream:
                                session.on_stream_event(event)
                    elif Agent.is_call_tools_node(node):
                        await session.account(node.model_response)
                        session.budget.check()
                        async with node.stream(run.ctx) as tool_stream:
                            async for tool_event in tool_stream:
                                session.on_tool_event(tool_event)
        except BudgetExceeded as exc:
            raise AgentFailed(str(exc)) from exc
        except UsageLimitExceeded as exc:
            raise AgentFailed(f"{ctx.name} reached its limit ({_limit_name(settings)}): {exc}") from exc
        except UnexpectedModelBehavior as exc:
            raise AgentFailed(f"{endpoint.qualified}: {exc.message}") from exc
        except ModelAPIError as exc:
            raise explain_model_error(exc, endpoint) from exc
        finally:
            try:
                await client.close()
            except Exception:  # closing must not hide why the agent ended
                log.debug("closing the %s client failed", endpoint.provider, exc_info=True)


def conversation_path(ctx: AgentContext) -> Path:
    """Where the agent's conversation is kept (AgentFailed for a name that cannot be a file name)."""
    try:
        return agent_file(ctx.workspace_root, ctx.run_id, "conversations", ctx.name, ".json")
    except UnsafePath as exc:
        raise AgentFailed(str(exc)) from exc


async def save_conversation(path: Path, messages: list[Any]) -> None:
    """The agent's messages so far (pydantic-ai's JSON), written atomically."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    data = ModelMessagesTypeAdapter.dump_json(messages)
    tmp = path.with_suffix(".tmp")
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    async with aiofiles.open(tmp, "wb") as fh:
        await fh.write(data)
    await asyncio.to_thread(os.replace, tmp, path)


async def load_conversation(path: Path) -> list[Any] | None:
    """The saved conversation, or None if there is none (or it cannot be read)."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    try:
        async with aiofiles.open(path, "rb") as fh:
            data = await fh.read()
        messages = ModelMessagesTypeAdapter.validate_json(data)
    except FileNotFoundError:
        return None
    except ValueError:
        log.warning("ignoring an unreadable conversation in %s", path)
        return None
    return list(messages) or None


def _limit_name(settings: Any) -> str:
    parts = [f"max_requests {settings.max_requests or DEFAULT_MAX_REQUESTS}"]
    if settings.max_tokens:
        parts.append(f"max_tokens {settings.max_tokens}")
    return ", ".join(parts)

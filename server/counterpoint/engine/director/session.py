"""The director's conversation with its model, on the machinery of ``runner: llm``.

The endpoint, key and client (`llm_models.resolve_endpoint`, `build_model`: user settings, then
the environment; the SDK's own retries), the prices (`PriceTable`), the budget (`RunBudget`), the
error messages (`explain_model_error`), the streamed lines (`LineStream`) and the saved
conversation (`save_conversation`) are the llm runner's. What is the director's own: its tools are
read-only (read_file, list_files, search through the confined `WorkspaceTools`, and
project_overview), and its answer is structured (`Draft`, through the output tool ``submit_plan``).
Each response's usage is a ``usage`` event of the plan, as an llm agent's is of its run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from counterpoint.engine.director.prompt import OUTPUT_TOOL
from counterpoint.engine.run.budget import BudgetExceeded, RunBudget
from counterpoint.engine.runners.base import AgentFailed
from counterpoint.engine.runners.llm_models import Endpoint, build_model, explain_model_error
from counterpoint.engine.runners.llm_tools import LineStream, short_args
from counterpoint.engine.runners.pricing import PriceTable, TokenUsage
from counterpoint.engine.workspace import ToolError, WorkspaceTools

log = logging.getLogger(__name__)
ACTOR = "director"
TOOL_RETRIES = 4

Record = Callable[[str, str | None, dict[str, Any]], Awaitable[None]]
"""Append an event of the plan (type, action, metadata) with the director as actor."""


class Draft(BaseModel):
    """What the director submits (the arguments of ``submit_plan``)."""

    spec: str = Field(description="The whole text of the *.agents.md spec.")
    estimates: dict[str, float] = Field(
        default_factory=dict, description="Agent name -> minutes of focused work it should take."
    )
    signal_minutes: dict[str, float] = Field(
        default_factory=dict,
        description="Signal -> minutes after its emitter starts when it fires (only signals fired "
        "before the emitter's work ends).",
    )
    summary: str = Field("", description="One or two sentences: the plan and why it is split so.")


class PlanFailed(Exception):
    """Planning could not go on; the message says why and what to do."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        """A spec written anyway (the last draft), if any."""


class Usage:
    """Tokens, requests and cost of the whole plan; each response recorded and charged."""

    def __init__(self, endpoint: Endpoint, prices: PriceTable, budget: RunBudget, record: Record) -> None:
        self.endpoint = endpoint
        self.prices = prices
        self.budget = budget
        self.record = record
        self.total = TokenUsage()
        self.requests = 0
        self.cost = 0.0
        self.unpriced = False

    async def account(self, response: Any) -> None:
        tokens = TokenUsage.of(response.usage)
        cost = self.prices.cost(self.endpoint.qualified, tokens)
        self.unpriced = self.unpriced or cost is None
        self.requests += 1
        self.cost += cost or 0.0
        self.total = self.total + tokens
        self.budget.charge(ACTOR, cost or 0.0)
        await self.record("usage", self.endpoint.qualified, tokens.event(cost))

    def figures(self) -> dict[str, Any]:
        return self.total.event(self.cost, requests=self.requests)


def read_only_tools(tools: WorkspaceTools, overview: Callable[[], Awaitable[str]]) -> list[Any]:
    """The director's tools: it looks, it never writes or runs anything."""
    from pydantic_ai import ModelRetry, Tool

    async def read_file(path: str) -> str:
        """Read a text file of the repository (paths relative to its root)."""
        try:
            return await tools.read_file(ACTOR, path)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc

    async def list_files(path: str = ".", pattern: str | None = None) -> str:
        """List the files under a folder (recursively), optionally only those matching a glob."""
        try:
            found = await tools.list_files(ACTOR, path, pattern)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc
        if len(found) > 400:
            return (
                "\n".join(found[:400]) + f"\n... and {len(found) - 400} more (narrow the folder or pattern)"
            )
        return "\n".join(found) if found else "(no files)"

    async def search(text: str, path: str = ".") -> str:
        """Find the lines containing `text` (plain, case-sensitive) in the files under `path`."""
        try:
            hits = await tools.search(ACTOR, text, path)
        except ToolError as exc:
            raise ModelRetry(str(exc)) from exc
        return "\n".join(f"{h['path']}:{h['line']}: {h['text']}" for h in hits) if hits else "(no matches)"

    async def project_overview() -> str:
        """The repository's layout and languages, its test and lint commands (with the check
        format to use), its role files (.claude/agents/), its shared context and its specs."""
        return await overview()

    functions = (read_file, list_files, search, project_overview)
    return [Tool(f, takes_ctx=False, max_retries=TOOL_RETRIES) for f in functions]


class Conversation:
    """One model, one growing conversation: `ask` sends a prompt and returns the `Draft` the
    model submits (it may use its tools first)."""

    def __init__(
        self,
        endpoint: Endpoint,
        system: str,
        tools: list[Any],
        usage: Usage,
        progress: Callable[[str], None],
        max_requests: int,
    ) -> None:
        from pydantic_ai import Agent, ToolOutput

        self.endpoint = endpoint
        self.usage = usage
        self.progress = progress
        self.max_requests = max_requests
        self.lines = LineStream(progress)
        self.history: list[Any] | None = None
        model_settings: dict[str, Any] = {}
        if endpoint.provider == "anthropic":  # as the llm runner: the instructions are a cached prefix
            model_settings = {"anthropic_cache_instructions": True, "anthropic_cache_messages": True}
        self.model, self.client = build_model(endpoint)
        self.agent: Agent[None, Draft] = Agent(
            self.model,
            system_prompt=system,
            tools=tools,
            output_type=ToolOutput(Draft, name=OUTPUT_TOOL, max_retries=TOOL_RETRIES),
            retries=TOOL_RETRIES,
            model_settings=model_settings or None,  # type: ignore[arg-type]
            name=ACTOR,
        )

    async def ask(self, prompt: str) -> Draft:
        from pydantic_ai import Agent
        from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior, UsageLimitExceeded
        from pydantic_ai.usage import UsageLimits

        left = self.max_requests - self.usage.requests
        if left <= 0:
            raise PlanFailed(self._limit_text())
        qualified = self.endpoint.qualified
        try:
            async with self.agent.iter(
                prompt, message_history=self.history, usage_limits=UsageLimits(request_limit=left)
            ) as run:
                async for node in run:
                    if Agent.is_model_request_node(node):
                        self.usage.budget.check()
                        async with node.stream(run.ctx) as stream:
                            async for event in stream:
                                self._on_stream_event(event)
                    elif Agent.is_call_tools_node(node):
                        # Charged, and checked before the next request: a draft already paid for
                        # (in this response) is not thrown away.
                        await self.usage.account(node.model_response)
                self.history = run.all_messages()
                result = run.result
        except BudgetExceeded as exc:
            raise PlanFailed(f"the director's budget is spent: {_budget_text(self.usage.budget)}") from exc
        except UsageLimitExceeded as exc:
            raise PlanFailed(self._limit_text()) from exc
        except UnexpectedModelBehavior as exc:
            raise PlanFailed(f"{qualified}: {exc.message}") from exc
        except ModelAPIError as exc:
            raise PlanFailed(str(explain_model_error(exc, self.endpoint))) from exc
        except AgentFailed as exc:
            raise PlanFailed(str(exc)) from exc
        finally:
            self.lines.flush()
        if result is None:
            raise PlanFailed(f"{qualified} ended without submitting a plan")
        return result.output

    def _limit_text(self) -> str:
        return (
            f"the director reached its limit of {self.max_requests} model requests; raise "
            "director.max_requests in your user settings"
        )

    def _on_stream_event(self, event: Any) -> None:
        def called(name: str, args: object) -> None:
            if name != OUTPUT_TOOL:
                self.progress(f"> {name}({short_args(args)})")

        self.lines.follow(event, called=called)

    async def close(self) -> None:
        try:
            await self.client.close()
        except Exception:  # closing must not hide how the plan ended
            log.debug("closing the %s client failed", self.endpoint.provider, exc_info=True)


def _usd(amount: float) -> str:
    return f"${amount:.4f}" if amount >= 0.0001 or amount == 0 else f"${amount:.2g}"


def _budget_text(budget: RunBudget) -> str:
    limit = _usd(budget.limit) if budget.limit is not None else "no limit"
    return (
        f"{limit}, {_usd(budget.spent)} spent; raise it with --budget-usd or director.budget_usd "
        "in your user settings"
    )

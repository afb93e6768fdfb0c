"""The director: a one-line feature request -> a checked spec in the workspace.

`plan_feature` resolves the model (``--model``, else ``director.model`` in the user settings,
else ``COUNTERPOINT_DIRECTOR_MODEL``) and its endpoint and key as ``runner: llm`` does, surveys
the repository through read-only tools, and asks the model for a draft. Each draft is checked as
``counterpoint check`` checks it (a ``plan_draft`` event); its errors go back to the model, with
their lines, for at most ``max_rounds`` drafts in all. The last draft is written whether it passes
or not (never silently: the outcome says how many errors are left), with a note under its title:
the request, the estimates, the predicted critical path and speed-up (`estimate.predict`).

The plan is recorded in the workspace's event log under its own id (``plan-...``):
``plan_started``, the director's ``tool_call`` and ``usage`` events, ``plan_draft`` per draft,
``plan_finished`` (tokens, cost, rounds, the prediction). Its conversation and drafts are kept in
``.counterpoint/plans/<id>/``. Nothing here blocks the event loop, and nothing runs an agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import (
    EventType,
    PlanDraftPayload,
    PlanFinishedPayload,
    PlanStartedPayload,
)
from counterpoint_protocol.spec import Spec

from counterpoint.engine.director import draft as drafts
from counterpoint.engine.director.estimate import predict
from counterpoint.engine.director.options import (
    DEFAULT_MAX_REQUESTS,
    DEFAULT_ROUNDS,
    PLAN_ID,
    PlanOptions,
    PlanOutcome,
    choose_model,
    new_plan_id,
    number,
    setting,
)
from counterpoint.engine.director.prompt import advice_request, first_request, instructions, repair_request
from counterpoint.engine.director.review import review
from counterpoint.engine.director.session import (
    ACTOR,
    Conversation,
    Draft,
    PlanFailed,
    Usage,
    read_only_tools,
)
from counterpoint.engine.director.survey import survey
from counterpoint.engine.log import EventLog
from counterpoint.engine.run.budget import RunBudget
from counterpoint.engine.runners.base import AgentFailed
from counterpoint.engine.runners.llm_models import Endpoint, resolve_endpoint
from counterpoint.engine.runners.pricing import PriceTable
from counterpoint.engine.spec import format_cli
from counterpoint.engine.workspace import (
    STATE_DIR,
    ToolCall,
    WorkspaceTools,
    load_shared_context,
    load_user_settings,
)

log = logging.getLogger(__name__)


class _Planner:
    def __init__(
        self, log_: EventLog, options: PlanOptions, settings: dict[str, Any], endpoint: Endpoint, path: Path
    ) -> None:
        self.log = log_
        self.options = options
        self.root = options.root
        self.endpoint = endpoint
        self.plan_id = options.plan_id or new_plan_id()
        self.progress = options.on_progress or (lambda line: None)
        self.max_rounds = (
            options.max_rounds or number(setting(settings, "max_rounds"), int, 1) or DEFAULT_ROUNDS
        )
        self.max_requests = (
            options.max_requests or number(setting(settings, "max_requests"), int, 1) or DEFAULT_MAX_REQUESTS
        )
        limit = options.budget_usd if options.budget_usd is not None else setting(settings, "budget_usd")
        self.budget = RunBudget(number(limit, float, 0))
        self.settings = settings
        self.path = path
        self.folder = options.root / STATE_DIR / "plans" / self.plan_id
        self.last: tuple[Draft, Spec] | None = None
        self.rounds = 0
        """Drafts checked so far."""
        self.started = time.monotonic()
        self.usage: Usage | None = None

    async def record(self, type: str, action: str | None, metadata: dict[str, Any]) -> None:
        await self.log.append(self.plan_id, type, ACTOR, action, metadata)

    async def record_tool(self, call: ToolCall) -> None:
        meta: dict[str, Any] = {"args": call.args}
        if call.result is not None:
            meta["result"] = call.result
        if call.error is not None:
            meta["error"] = call.error
        await self.record(EventType.TOOL_CALL, call.tool, meta)

    # -- the plan -------------------------------------------------------------------------------

    async def run(self) -> PlanOutcome:
        context = setting(self.settings, "context")
        names = [str(n) for n in context] if isinstance(context, list) else None
        shared = await load_shared_context(self.root, names, root=self.root)
        prices = await asyncio.to_thread(PriceTable.load, self.settings.get("prices"))
        self.usage = Usage(self.endpoint, prices, self.budget, self.record)
        started = PlanStartedPayload(
            request=self.options.request,
            model=self.endpoint.qualified,
            spec=str(self.path),
            context=[f.path for f in shared.files],
            max_rounds=self.max_rounds,
        )
        await self.record(EventType.PLAN_STARTED, self.endpoint.qualified, started.metadata())
        try:
            outcome = await self._plan(shared.text)
        except PlanFailed as exc:
            await self._finish("failed", error=str(exc), spec=exc.path)
            raise
        except asyncio.CancelledError:
            await asyncio.shield(self._finish("cancelled", error="cancelled"))
            raise
        except Exception as exc:
            log.exception("planning %s failed", self.plan_id)
            await self._finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise PlanFailed(f"the director failed: {type(exc).__name__}: {exc}") from exc
        await self._finish("ready" if outcome.ok else "invalid", outcome=outcome)
        return outcome

    async def _plan(self, shared: str) -> PlanOutcome:
        assert self.usage is not None
        tools = WorkspaceTools(self.root, self.root, recorder=self.record_tool)
        self.progress("reading the repository")
        found = await survey(tools, ACTOR)
        overview = found.text()

        async def again() -> str:
            return (await survey(tools, ACTOR)).text()

        system = instructions(self.endpoint.qualified)
        system += (
            f"\n\n<shared-context>\n{shared}</shared-context>\n" if shared else "\n\n(no shared context)\n"
        )
        conversation = Conversation(
            self.endpoint, system, read_only_tools(tools, again), self.usage, self.progress, self.max_requests
        )
        name = (
            self.path.relative_to(self.root).as_posix()
            if self.path.is_relative_to(self.root)
            else str(self.path)
        )
        prompt = first_request(self.options.request, name, overview)
        advised = False
        try:
            for round_no in range(1, self.max_rounds + 1):
                self.progress(
                    f"draft {round_no} of at most {self.max_rounds}: asking {self.endpoint.qualified}"
                )
                try:
                    submitted = await conversation.ask(prompt)
                except PlanFailed as exc:
                    raise await self._failed_after_drafts(exc) from exc
                checked = await asyncio.to_thread(drafts.check, submitted.spec, self.path)
                self.last = (submitted, checked)
                self.rounds = round_no
                findings = drafts.shown(checked)
                errors, warnings = drafts.counts(checked)
                notes = review(checked, found) if not errors and not advised else []
                await self._keep(f"draft-{round_no}.md", submitted.spec)
                payload = PlanDraftPayload(
                    round=round_no,
                    errors=errors,
                    warnings=warnings,
                    findings=[format_cli(d, name) for d in [*findings, *notes]],
                )
                await self.record(EventType.PLAN_DRAFT, str(round_no), payload.metadata())
                if notes and round_no < self.max_rounds:  # it passes, but the survey knows better (once)
                    advised = True
                    self.progress(f"draft {round_no} passes counterpoint check; {len(notes)} review notes")
                    prompt = advice_request(notes, submitted.spec, name)
                elif errors == 0:
                    self.progress(f"draft {round_no} passes counterpoint check")
                    break
                else:
                    self.progress(f"draft {round_no}: {errors} errors, {warnings} warnings")
                    prompt = repair_request(findings, submitted.spec, name, round_no, self.max_rounds)
            return await self._outcome(self.rounds)
        finally:
            await self._keep_conversation(conversation)
            await conversation.close()

    async def _outcome(self, rounds: int) -> PlanOutcome:
        assert self.last is not None and self.usage is not None
        submitted, checked = self.last
        prediction = predict(checked, submitted.estimates, submitted.signal_minutes)
        text = drafts.annotate(
            submitted.spec, drafts.note(self.options.request, self.endpoint.qualified, prediction, rounds)
        )
        if self.options.out is None and await asyncio.to_thread(self.path.exists):  # taken meanwhile
            self.path = await asyncio.to_thread(drafts.spec_path, self.root, self.options.request, None)
        final = await asyncio.to_thread(drafts.check, text, self.path)
        await asyncio.to_thread(drafts.write, self.path, text)
        errors, warnings = drafts.counts(final)
        shown = _display(self.path, self.root)
        if errors:
            message = (
                f"wrote {shown}, but it still has {errors} {_plural(errors, 'error')} after {rounds} "
                f"{_plural(rounds, 'draft')}: fix {'it' if errors == 1 else 'them'} before running it"
            )
        else:
            message = f"wrote {shown}: it passes counterpoint check ({rounds} {_plural(rounds, 'draft')})"
        return PlanOutcome(
            plan_id=self.plan_id,
            path=self.path,
            ok=errors == 0,
            rounds=rounds,
            spec=final,
            errors=errors,
            warnings=warnings,
            message=message,
            summary=submitted.summary.strip(),
            usage=self.usage.figures(),
            prediction=prediction,
        )

    async def _failed_after_drafts(self, failure: PlanFailed) -> PlanFailed:
        """A failure once a draft exists: that draft is written (the work is not lost) and said."""
        if self.last is None:
            return failure
        try:
            outcome = await self._outcome(self.rounds)
        except OSError as exc:
            return PlanFailed(f"{failure}; the last draft could not be written: {exc}")
        left = f"{outcome.errors} {_plural(outcome.errors, 'error')}" if outcome.errors else "no errors"
        return PlanFailed(
            f"{failure}; the last draft ({left}) is in {_display(outcome.path, self.root)}",
            path=str(outcome.path),
        )

    async def _finish(
        self,
        action: str,
        *,
        outcome: PlanOutcome | None = None,
        error: str | None = None,
        spec: str | None = None,
    ) -> None:
        figures = self.usage.figures() if self.usage is not None else {}
        payload = PlanFinishedPayload(
            spec=str(outcome.path) if outcome else spec,
            ok=outcome.ok if outcome else False,
            rounds=outcome.rounds if outcome else self.rounds,
            errors=outcome.errors if outcome else 0,
            warnings=outcome.warnings if outcome else 0,
            duration_s=round(time.monotonic() - self.started, 3),
            error=error,
            prediction=outcome.prediction if outcome else None,
            **figures,
        )
        try:
            await self.record(EventType.PLAN_FINISHED, action, payload.model_dump(exclude_none=True))
        except Exception:  # the log failed: the face still says how the plan ended
            log.warning("could not record the end of plan %s", self.plan_id, exc_info=True)

    async def _keep(self, name: str, text: str) -> None:
        def write() -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_text(text, encoding="utf-8")

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            log.warning("could not keep %s of plan %s: %s", name, self.plan_id, exc)

    async def _keep_conversation(self, conversation: Conversation) -> None:
        if not conversation.history:
            return
        from counterpoint.engine.runners.llm import save_conversation

        try:
            await save_conversation(self.folder / "conversation.json", conversation.history)
        except OSError as exc:
            log.warning("could not keep the conversation of plan %s: %s", self.plan_id, exc)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _display(path: Path, root: Path | None = None) -> str:
    """``path`` relative to the workspace's root (else to the current folder)."""
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


async def plan_feature(event_log: EventLog, options: PlanOptions) -> PlanOutcome:
    """Plan ``options.request`` into a spec under ``options.root``; `PlanFailed` says why not."""
    if not options.request.strip():
        raise PlanFailed("the request is empty: say in one sentence what to build")
    if options.plan_id is not None and PLAN_ID.fullmatch(options.plan_id) is None:
        raise PlanFailed(f"plan id {options.plan_id!r}: write plan-<letters, digits, - or _>")
    try:
        path = await asyncio.to_thread(
            drafts.spec_path, options.root, options.request, options.out, overwrite=options.overwrite
        )
    except drafts.DraftProblem as exc:
        raise PlanFailed(str(exc)) from exc
    settings = options.user_settings
    if settings is None:
        settings = await asyncio.to_thread(load_user_settings, options.root)
    model = choose_model(options, settings)
    llm = settings.get("llm") if isinstance(settings.get("llm"), dict) else None
    try:
        endpoint = resolve_endpoint(model, llm)
    except AgentFailed as exc:
        raise PlanFailed(str(exc)) from exc
    from counterpoint.engine.runners.llm import preload

    try:
        await preload()
    except ImportError as exc:
        raise PlanFailed(f"the director needs pydantic-ai ({exc}): pip install 'counterpoint[llm]'") from exc
    return await _Planner(event_log, options, settings, endpoint, path).run()

"""The run UI's questions and wiring: gates and consent asked through the editor, settings applied
to each new run, and every engine's events routed to `run_events.EventRouter` (progress,
diagnostics, refreshes and notifications follow from events alone)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from counterpoint_protocol.events import Event

    from counterpoint.engine.engine import Engine
    from counterpoint.engine.run import GateAnswer, RunOptions
    from counterpoint.lsp.core import CounterpointServer
    from counterpoint.lsp.features.run_events import EventRouter

log = logging.getLogger(__name__)


class RunUI:
    """Asks the editor what a run needs a person for, and hands its events to the router."""

    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self._router: EventRouter | None = None

    @property
    def router(self) -> EventRouter:
        if self._router is None:
            # Imported with the first engine, after `initialize`: the event types are the
            # protocol's pydantic module, which the server does not load before answering it.
            from counterpoint.lsp.features.run_events import EventRouter

            self._router = EventRouter(self.server)
        return self._router

    def attach_engine(self, engine: Engine) -> None:
        engine.log.subscribe(self.on_event)
        engine.log.on_failure(lambda error: self.on_log_failure(engine, error))

    def on_event(self, event: Event) -> None:
        self.router.on_event(event)

    def on_log_failure(self, engine: Engine, error: Exception) -> None:
        """The log cannot record any more (a full disk): the engine stops its runs, and no event
        can tell their end. Say it once, as an error, and end the stopped runs' progress."""
        from counterpoint.lsp.features import live
        from counterpoint.lsp.features.run_events import agent_token, run_token

        stopped = engine.live_runs()
        for run in stopped:
            self.router.progress.end(run_token(run.run_id), "stopped: the event log failed")
            for name in live.agent_names(run):
                self.router.progress.end(agent_token(run.run_id, name), "run stopped")
        what = f"run {', '.join(run.run_id for run in stopped)} was stopped" if stopped else "no run was live"
        self.server.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error,
                message=f"Counterpoint: the event log cannot record any more ({what}): {error}",
            )
        )

    # -- runs -------------------------------------------------------------------------------------

    def run_options(self, agents: list[str] | None = None) -> RunOptions:
        """Complete options for a run started from the editor (its asks, the settings' cap,
        trust and watcher ignores): nothing is patched into the run once it exists."""
        from counterpoint.engine.run import RunOptions

        settings = self.server.settings
        return RunOptions(agents=agents, max_parallel=settings.maxParallel).with_face(
            gate_handler=self.ask_gate,
            consent_asker=self.ask_consent,
            trust=settings.trust,
            watcher_ignores=list(settings.watcherIgnores),
        )

    async def ask_gate(self, run: object, agent: str, question: str) -> GateAnswer:
        """The gate of ``agent`` (``run``: the engine's view of its run, not needed here)."""
        if not self.server.supports_show_message_request:
            log.warning("gate for %s: the client cannot ask; skipping", agent)
            return "skip"
        answer = await self.server.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message=question,
                actions=[
                    types.MessageActionItem(title="Start"),
                    types.MessageActionItem(title="Skip"),
                    types.MessageActionItem(title="Cancel run"),
                ],
            )
        )
        title = answer.title if answer is not None else "Skip"
        return "start" if title == "Start" else "cancel" if title == "Cancel run" else "skip"

    async def ask_consent(self, workspace: str, what: str) -> bool:
        if not self.server.supports_show_message_request:
            return False
        answer = await self.server.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Warning,
                message=f"A spec in {workspace} wants to run `{what}`. Allow commands from this workspace's specs?",
                actions=[
                    types.MessageActionItem(title="Allow"),
                    types.MessageActionItem(title="Deny"),
                ],
            )
        )
        return answer is not None and answer.title == "Allow"


def register(server: CounterpointServer) -> None:
    ui = RunUI(server)
    server.add_part(ui)
    server.engine_hooks.append(ui.attach_engine)

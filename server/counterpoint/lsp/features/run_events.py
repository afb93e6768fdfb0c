"""Event → UI: every committed event of a run becomes a `counterpoint/event` notification
(agent output throttled per agent), work-done progress, diagnostics for findings, a lens and
inlay hint refresh, and a message when an agent fails or the run ends.

Imported with the first engine (after `initialize`): it uses the protocol's event types.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from counterpoint_protocol.events import EventType
from counterpoint_protocol.methods import Notifications
from lsprotocol import types

from counterpoint.lsp.features import live
from counterpoint.lsp.features.findings import Findings
from counterpoint.lsp.features.lenses import ViewRefresh
from counterpoint.lsp.features.progress import ProgressManager

if TYPE_CHECKING:
    from counterpoint_protocol.events import Event

    from counterpoint.engine.run import Run
    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)
OUTPUT_INTERVAL_S = 0.5
"""agent_output events reach `counterpoint/event` at most this often per agent (the last one always)."""

REFRESHING = frozenset(
    {
        EventType.AGENT_STARTED,
        EventType.AGENT_FINISHED,
        EventType.AGENT_WAITING,
        EventType.RUN_FINISHED,
        EventType.RUN_STARTED,
    }
)
"""Events that change what the lenses and inlay hints show."""
RUN_PROGRESS = frozenset(
    {
        EventType.AGENT_STARTED,
        EventType.AGENT_FINISHED,
        EventType.AGENT_WAITING,
        EventType.SIGNAL,
        EventType.AGENT_QUEUED,
    }
)
"""Events that change the run's progress line."""


def run_token(run_id: str) -> str:
    return f"counterpoint/run/{run_id}"


def agent_token(run_id: str, agent: str) -> str:
    return f"counterpoint/agent/{run_id}/{agent}"


class EventRouter:
    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self.progress = server.part(ProgressManager)
        self.findings = Findings(server)
        self._last_output_sent: dict[tuple[str, str], float] = {}
        self._held_output: dict[tuple[str, str], Event] = {}
        self._output_flush: asyncio.TimerHandle | None = None
        self.followed: dict[str, str] = {}
        """Runs shown from elsewhere (`attach`): run id -> its spec here ('' when none matches)."""

    def on_event(self, event: Event) -> None:
        try:
            run = self._run(event.run_id)
            self._forward(event)
            if run is not None:
                self._progress(run, event)
            spec = str(run.spec.path) if run is not None else self.followed.get(event.run_id) or None
            self.findings.on_event(event, spec)
            if event.type in REFRESHING:
                self.server.part(ViewRefresh).refresh()
            if event.type == EventType.RUN_FINISHED:
                self._run_finished(event)
            elif event.type == EventType.AGENT_FINISHED and event.action in ("failed", "timed_out"):
                error = event.metadata.get("error") or event.action
                self.show(
                    types.MessageType.Error, f"Counterpoint: agent {event.actor} {event.action}: {error}"
                )
        except Exception:
            log.exception("handling event %s failed", event.id)

    def _run(self, run_id: str) -> Run | None:
        found = self.server.find_run(run_id)
        return found[1] if found else None

    # -- counterpoint/event -------------------------------------------------------------------------

    def _forward(self, event: Event) -> None:
        if event.type != EventType.AGENT_OUTPUT or event.actor is None:
            self._notify(event)
            return
        key = (event.run_id, event.actor)
        now = time.monotonic()
        last = self._last_output_sent.get(key)
        if last is None or now - last >= OUTPUT_INTERVAL_S:
            self._last_output_sent[key] = now
            self._held_output.pop(key, None)
            self._notify(event)
        else:
            self._held_output[key] = event
            if self._output_flush is None:
                loop = asyncio.get_running_loop()
                self._output_flush = loop.call_later(OUTPUT_INTERVAL_S, self._flush_output)

    def _flush_output(self) -> None:
        self._output_flush = None
        held, self._held_output = self._held_output, {}
        now = time.monotonic()
        for key, event in held.items():
            self._last_output_sent[key] = now
            self._notify(event)

    def _notify(self, event: Event) -> None:
        self.server.protocol.notify(Notifications.EVENT, event.model_dump())

    # -- progress -----------------------------------------------------------------------------------

    def _progress(self, run: Run, event: Event) -> None:
        if event.type == EventType.RUN_STARTED:
            self.progress.begin(
                run_token(run.run_id),
                f"Counterpoint: {run.spec.feature or Path(run.spec.path).name}",
                f"starting {len(live.agent_names(run))} agents",
                percentage=0,
                on_cancel=run.cancel,
            )
        elif event.type == EventType.AGENT_STARTED and event.actor:
            name = event.actor
            self.progress.begin(
                agent_token(run.run_id, name),
                f"agent {name}",
                "started",
                on_cancel=lambda: _discard(run.cancel_agent(name)),
            )
        elif event.type == EventType.AGENT_OUTPUT and event.actor:
            line = str(event.metadata.get("line", ""))
            self.progress.update(agent_token(run.run_id, event.actor), line)
        elif event.type == EventType.AGENT_FINISHED and event.actor:
            detail = event.action or ""
            if event.metadata.get("duration_s") is not None:
                detail += f" in {event.metadata['duration_s']:.1f}s"
            self.progress.end(agent_token(run.run_id, event.actor), detail)
        if event.type == EventType.RUN_FINISHED:
            self.progress.end(run_token(run.run_id), event.action)
            for name in live.agent_names(run):
                self.progress.end(agent_token(run.run_id, name), "run ended")
        elif event.type in RUN_PROGRESS:
            self.progress.update(run_token(run.run_id), *live.run_progress(run))

    # -- messages -----------------------------------------------------------------------------------

    def _run_finished(self, event: Event) -> None:
        agents: dict[str, str] = event.metadata.get("agents", {})
        bad = [f"{name} {state}" for name, state in agents.items() if state != "succeeded"]
        wall = event.metadata.get("wall_s")
        if event.action == "succeeded":
            message = f"Counterpoint: run {event.run_id} succeeded ({len(agents)} agents in {wall:.1f}s)"
            self.show(types.MessageType.Info, message)
        else:
            self.show(
                types.MessageType.Warning if event.action == "cancelled" else types.MessageType.Error,
                f"Counterpoint: run {event.run_id} {event.action}: " + (", ".join(bad) or "no agents"),
            )

    def show(self, kind: types.MessageType, message: str) -> None:
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))


def _discard(_: object) -> None:
    return None

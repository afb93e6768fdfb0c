"""What the editor sees of runs: the event stream, progress, gates, consent, findings, the end.

Everything here follows from events: the run's state changes are appended to
the log, and `RunUI.on_event` turns each committed event into progress,
diagnostics, lens/inlay refreshes and notifications.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.methods import Notifications
from lsprotocol import types
from pygls.uris import from_fs_path

from counterpoint.lsp.features import progress
from counterpoint.lsp.features.documents import file_lines, to_lsp_diagnostics

if TYPE_CHECKING:
    from counterpoint_protocol.events import Event

    from counterpoint.engine.engine import Engine
    from counterpoint.engine.run import Run
    from counterpoint.engine.run_options import GateAnswer
    from counterpoint.lsp.server import CounterpointServer

log = logging.getLogger(__name__)
OUTPUT_INTERVAL_S = 0.5
"""agent_output events reach `counterpoint/event` at most this often per agent (the last one always)."""


class T:
    """Event type names (plain strings: the protocol's enum is loaded lazily)."""

    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_FINISHED = "run_finished"
    AGENT_WAITING = "agent_waiting"
    AGENT_QUEUED = "agent_queued"
    AGENT_STARTED = "agent_started"
    AGENT_OUTPUT = "agent_output"
    AGENT_FINISHED = "agent_finished"
    SIGNAL = "signal"
    CHECK_STARTED = "check_started"
    CHECK_FINISHED = "check_finished"
    FINDING = "finding"


def run_token(run_id: str) -> str:
    return f"counterpoint/run/{run_id}"


def agent_token(run_id: str, agent: str) -> str:
    return f"counterpoint/agent/{run_id}/{agent}"


class RunUI:
    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self.progress = progress.ProgressManager(server)
        self._last_output_sent: dict[tuple[str, str], float] = {}
        self._held_output: dict[tuple[str, str], Event] = {}
        self._output_flush: asyncio.TimerHandle | None = None
        self._pending_findings: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._lens_refresh: asyncio.TimerHandle | None = None
        self._publish_lock = asyncio.Lock()

    def attach_engine(self, engine: Engine) -> None:
        engine.log.subscribe(self.on_event)
        engine.run_hooks.append(self.on_new_run)

    # -- runs -------------------------------------------------------------------------------------

    def on_new_run(self, run: Run) -> None:
        if run.options.gate_handler is None:
            run.options.gate_handler = self.ask_gate
        if run.options.consent_asker is None:
            run.options.consent_asker = self.ask_consent
        if run.consent.asker is None:
            run.consent.asker = run.options.consent_asker
        if self.server.settings.trust:
            run.consent.trust = True
        if self.server.settings.watcherIgnores:
            run.options.watcher_ignores = [
                *run.options.watcher_ignores,
                *self.server.settings.watcherIgnores,
            ]

    async def ask_gate(self, run: Run, agent: str, question: str) -> GateAnswer:
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

    def _run(self, run_id: str) -> Run | None:
        found = self.server.find_run(run_id)
        return found[1] if found else None

    # -- events -------------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        try:
            self._forward(event)
            self._progress(event)
            self._findings(event)
            if event.type in (
                T.AGENT_STARTED,
                T.AGENT_FINISHED,
                T.AGENT_WAITING,
                T.RUN_FINISHED,
                T.RUN_STARTED,
            ):
                self.refresh_lenses()
            if event.type == T.RUN_FINISHED:
                self._run_finished(event)
            elif event.type == T.AGENT_FINISHED and event.action in ("failed", "timed_out"):
                error = event.metadata.get("error") or event.action
                self._show(
                    types.MessageType.Error,
                    f"Counterpoint: agent {event.actor} {event.action}: {error}",
                )
        except Exception:
            log.exception("handling event %s failed", event.id)

    def _forward(self, event: Event) -> None:
        if event.type != T.AGENT_OUTPUT or event.actor is None:
            self._notify(event)
            return
        key = (event.run_id, event.actor)
        now = time.monotonic()
        if now - self._last_output_sent.get(key, 0.0) >= OUTPUT_INTERVAL_S:
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

    def _progress(self, event: Event) -> None:
        run = self._run(event.run_id)
        if run is None:
            return
        if event.type == T.RUN_STARTED:
            self.progress.begin(
                run_token(run.run_id),
                f"Counterpoint: {run.spec.feature or Path(run.spec.path).name}",
                f"starting {len(run.agents)} agents",
                percentage=0,
                on_cancel=run.cancel,
            )
        elif event.type == T.AGENT_STARTED and event.actor:
            name = event.actor
            self.progress.begin(
                agent_token(run.run_id, name),
                f"agent {name}",
                "started",
                on_cancel=lambda: _discard(run.cancel_agent(name)),
            )
        elif event.type == T.AGENT_OUTPUT and event.actor:
            line = str(event.metadata.get("line", ""))
            self.progress.update(agent_token(run.run_id, event.actor), line)
        elif event.type == T.AGENT_FINISHED and event.actor:
            detail = event.action or ""
            if event.metadata.get("duration_s") is not None:
                detail += f" in {event.metadata['duration_s']:.1f}s"
            self.progress.end(agent_token(run.run_id, event.actor), detail)
        if event.type == T.RUN_FINISHED:
            self.progress.end(run_token(run.run_id), event.action)
            for name in run.agents:
                self.progress.end(agent_token(run.run_id, name), "run ended")
        elif event.type in (
            T.AGENT_STARTED,
            T.AGENT_FINISHED,
            T.AGENT_WAITING,
            T.SIGNAL,
            T.AGENT_QUEUED,
        ):
            self.progress.update(run_token(run.run_id), run_summary(run), run_percentage(run))

    def _run_finished(self, event: Event) -> None:
        agents: dict[str, str] = event.metadata.get("agents", {})
        bad = [f"{name} {state}" for name, state in agents.items() if state != "succeeded"]
        wall = event.metadata.get("wall_s")
        if event.action == "succeeded":
            message = f"Counterpoint: run {event.run_id} succeeded ({len(agents)} agents in {wall:.1f}s)"
            self._show(types.MessageType.Info, message)
        else:
            self._show(
                types.MessageType.Warning if event.action == "cancelled" else types.MessageType.Error,
                f"Counterpoint: run {event.run_id} {event.action}: " + (", ".join(bad) or "no agents"),
            )

    def _show(self, kind: types.MessageType, message: str) -> None:
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # -- findings -> diagnostics ---------------------------------------------------------------------

    def _findings(self, event: Event) -> None:
        if event.type in (T.RUN_STARTED, T.RUN_RESUMED) and event.metadata.get("spec"):
            # Built-in findings have no check run to replace them: a new run of the spec does.
            self.server.diagnostics.clear_source(builtin_source(str(event.metadata["spec"])))
            return
        if event.actor is None:
            return
        key = (event.run_id, event.actor)
        if event.type == T.CHECK_STARTED:
            self._pending_findings[key] = []
        elif event.type == T.FINDING:
            self._pending_findings.setdefault(key, []).append(event.metadata)
            if event.metadata.get("builtin"):
                run = self._run(event.run_id)
                source = builtin_source(run.spec.path) if run is not None else f"check:{event.actor}"
                self._publish_soon(event.actor, list(self._pending_findings[key]), source, replace=False)
        elif event.type == T.CHECK_FINISHED:
            findings = self._pending_findings.pop(key, [])
            self._publish_soon(event.actor, findings, f"check:{event.actor}", replace=True)

    def _publish_soon(
        self, check: str, findings: list[dict[str, Any]], source: str, *, replace: bool
    ) -> None:
        """Publish off the event handler (files are read in a thread), in the order events came."""
        self.server.spawner.spawn(
            self._publish_findings(check, findings, source, replace=replace), name=f"publish {check}"
        )

    async def _publish_findings(
        self, check: str, findings: list[dict[str, Any]], source: str, *, replace: bool
    ) -> None:
        from counterpoint_protocol.spec import Severity, SourceRange, SpecDiagnostic

        by_file: dict[str, list[SpecDiagnostic]] = {}
        for finding in findings:
            path = finding.get("abs_path")
            if not path:
                continue
            rng = finding.get("range") or {}
            by_file.setdefault(path, []).append(
                SpecDiagnostic(
                    range=SourceRange(
                        line=int(rng.get("line", 0)),
                        col=int(rng.get("col", 0)),
                        end_line=int(rng.get("end_line", rng.get("line", 0))),
                        end_col=int(rng.get("end_col", 10_000)),
                    ),
                    severity=Severity(finding.get("severity", "error")),
                    message=str(finding.get("message", "")),
                    code=str(finding.get("rule") or check),
                    source=f"counterpoint/{check}",
                )
            )
        async with self._publish_lock:  # FIFO: a check's replace never overtakes an earlier publish
            published: set[str] = set()
            for path, diagnostics in by_file.items():
                uri = from_fs_path(path)
                if uri is None:
                    continue
                lines = await file_lines(self.server, Path(path))
                self.server.diagnostics.set(uri, source, to_lsp_diagnostics(self.server, lines, diagnostics))
                published.add(uri)
            if replace:  # files the check's last run had findings on and this run has none
                self.server.diagnostics.clear_source(source, keep=published)

    # -- refresh ------------------------------------------------------------------------------------

    def refresh_lenses(self) -> None:
        """Ask the client to refresh code lenses and inlay hints (coalesced)."""
        if self._lens_refresh is not None:
            return
        loop = asyncio.get_running_loop()
        self._lens_refresh = loop.call_later(0.2, self._do_refresh)

    def _do_refresh(self) -> None:
        self._lens_refresh = None
        workspace = self.server.client_capabilities.workspace
        if workspace is None:
            return
        if workspace.code_lens and workspace.code_lens.refresh_support:
            self.server.workspace_code_lens_refresh(None)
        if workspace.inlay_hint and workspace.inlay_hint.refresh_support:
            self.server.workspace_inlay_hint_refresh(None)

    def end_all_progress(self) -> None:
        self.progress.end_all()


def builtin_source(spec_path: str) -> str:
    """The diagnostics source of the built-in integration checks of one spec's runs."""
    return f"check:integration:{spec_path}"


def _discard(_: object) -> None:
    return None


def run_percentage(run: Run) -> int:
    total = len(run.agents) or 1
    return int(100 * sum(1 for a in run.agents.values() if a.terminal) / total)


def run_summary(run: Run) -> str:
    running = [a.name for a in run.agents.values() if a.state.value == "running"]
    waiting = [
        f"{a.name} on {', '.join(sorted(n.removeprefix('agent:') for n in a.waiting_on))}"
        for a in run.agents.values()
        if a.state.value == "waiting"
    ]
    parts = []
    if running:
        parts.append("running " + ", ".join(running))
    if waiting:
        parts.append("waiting: " + "; ".join(waiting))
    done = sum(1 for a in run.agents.values() if a.terminal)
    parts.append(f"{done}/{len(run.agents)} done")
    return " · ".join(parts)


def register(server: CounterpointServer) -> None:
    server.ui = RunUI(server)
    progress.register(server)

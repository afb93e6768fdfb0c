"""``counterpoint.attach {runId}``: show a run that another process runs (a terminal, CI, a colleague's
machine writing the same PostgreSQL event log) as if it ran here.

The run's past events are read from the workspace's log, then `EventLog.follow` delivers the new
ones as they are committed (LISTEN/NOTIFY on PostgreSQL, the file watched on SQLite). Every event
takes the path a local run's events take (`run_events.EventRouter`: ``counterpoint/event``
notifications, findings as diagnostics, lens and hint refreshes, the run's end as a message);
this module adds what a local run's `Run.status()` would give: the run's and its agents'
progress, from the events alone. Paths in the events are the other machine's: a finding's file
is found in this workspace by the spec's path relative to its workspace folder. Like the other
features, it loads the protocol's models (pydantic) only once the server has answered `initialize`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from counterpoint_protocol.methods import Commands

from counterpoint.lsp.core import CounterpointServer  # at run time: pygls reads the annotations
from counterpoint.lsp.features.commands import _engine_of_run, answered, parse
from counterpoint.lsp.features.progress import ProgressManager
from counterpoint.lsp.features.run_ui import RunUI
from counterpoint.lsp.uris import spec_path

if TYPE_CHECKING:
    from counterpoint_protocol.events import Event

log = logging.getLogger(__name__)
ENDED = frozenset({"succeeded", "failed", "timed_out", "cancelled", "blocked", "skipped"})
HISTORY_PAGE = 500
"""Past events handled at a time before the loop gets a turn."""


class PathMap:
    """The other machine's workspace folder -> this one's (found from the run's spec)."""

    def __init__(self, remote: str | None = None, local: str | None = None) -> None:
        self.remote = remote
        self.local = local

    @classmethod
    def find(cls, remote_spec: str, folders: list[Path]) -> tuple[PathMap, Path | None]:
        """(the map, the spec here) for a spec path of another machine (blocking: looks at files)."""
        theirs = Path(remote_spec)
        if any(theirs.is_relative_to(folder) for folder in folders) and theirs.is_file():
            return cls(), theirs  # this workspace's own run (another process here)
        parts = theirs.parts
        for start in range(1, len(parts)):  # the longest tail of the path that is a file here
            tail = Path(*parts[start:])
            for folder in folders:
                if (folder / tail).is_file():
                    return cls(str(Path(*parts[:start])), str(folder)), folder / tail
        return cls(), theirs if theirs.is_file() else None

    def __call__(self, path: str) -> str:
        if self.remote is None or self.local is None:
            return path
        if path == self.remote or path.startswith(self.remote.rstrip("/") + "/"):
            return self.local + path[len(self.remote.rstrip("/")) :]
        return path


class Attached:
    """One run followed from elsewhere: its agents' states and progress, from its events."""

    def __init__(self, server: CounterpointServer, run_id: str, paths: PathMap, spec: Path | None) -> None:
        self.server = server
        self.run_id = run_id
        self.paths = paths
        self.spec = spec
        self.title = f"Counterpoint: run {run_id}"
        self.states: dict[str, str] = {}
        self.waiting_on: dict[str, list[str]] = {}
        self.state = "running"
        self.showing = False
        self.stop: Callable[[], None] | None = None

    # -- events -----------------------------------------------------------------------------------

    def local(self, event: Event) -> Event:
        """The event with the other machine's paths of the spec and of findings made local."""
        meta = event.metadata
        changed = {k: self.paths(meta[k]) for k in ("spec", "abs_path") if isinstance(meta.get(k), str)}
        if not changed or all(meta[k] == v for k, v in changed.items()):
            return event
        return event.model_copy(update={"metadata": {**meta, **changed}})

    def on_events(self, events: list[Event]) -> None:
        router = self.server.part(RunUI).router
        for raw in events:
            event = self.local(raw)
            self.track(event)
            router.on_event(event)
            if self.showing:
                self.progress(event)
        if self.state != "running" and self.stop is not None:
            self.stop()
            self.stop = None

    def track(self, event: Event) -> None:
        kind, actor, meta = event.type, event.actor, event.metadata
        if kind in ("run_started", "run_resumed"):
            self.state = "running"
            if kind == "run_started" and event.action:
                self.title = f"Counterpoint: {event.action} (run {self.run_id}, elsewhere)"
            done = set(meta.get("completed_agents") or [])
            for name in meta.get("agents") or []:
                self.states[name] = "succeeded" if name in done else "pending"
        elif kind == "run_finished":
            self.state = event.action or "failed"
        elif actor is None:
            return
        elif kind == "agent_waiting":
            self.states[actor] = "waiting"
            self.waiting_on[actor] = list(meta.get("waiting_on") or [])
        elif kind in ("agent_queued", "agent_gated", "agent_started"):
            self.states[actor] = {"agent_queued": "queued", "agent_gated": "gated"}.get(kind, "running")
        elif kind == "agent_finished":
            self.states[actor] = event.action or "failed"

    def line(self) -> tuple[str, int]:
        """The run's progress line, as a local run's (who runs, who waits on what, how many are done)."""
        running = [n for n, s in self.states.items() if s == "running"]
        waiting = [
            f"{n} on {', '.join(self.waiting_on.get(n, []))}"
            for n, s in self.states.items()
            if s == "waiting"
        ]
        done = sum(1 for s in self.states.values() if s in ENDED)
        parts = []
        if running:
            parts.append("running " + ", ".join(running))
        if waiting:
            parts.append("waiting: " + "; ".join(waiting))
        parts.append(f"{done}/{len(self.states)} done")
        return " · ".join(parts), int(100 * done / (len(self.states) or 1))

    # -- progress ---------------------------------------------------------------------------------

    def show(self) -> None:
        """Begin the run's progress (and its running agents'), as it stands now."""
        from counterpoint.lsp.features.run_events import agent_token, run_token

        progress = self.server.part(ProgressManager)
        self.showing = True
        message, percentage = self.line()
        progress.begin(run_token(self.run_id), self.title, message, percentage=percentage)
        for name, state in self.states.items():
            if state == "running":
                progress.begin(agent_token(self.run_id, name), f"agent {name}", "running")

    def progress(self, event: Event) -> None:
        from counterpoint.lsp.features.run_events import agent_token, run_token

        progress = self.server.part(ProgressManager)
        name = event.actor
        if event.type == "agent_started" and name:
            progress.begin(agent_token(self.run_id, name), f"agent {name}", "started")
        elif event.type == "agent_output" and name:
            progress.update(agent_token(self.run_id, name), str(event.metadata.get("line", "")))
        elif event.type == "agent_finished" and name:
            duration = event.metadata.get("duration_s")
            detail = (event.action or "") + (f" in {duration:.1f}s" if duration is not None else "")
            progress.end(agent_token(self.run_id, name), detail)
        if event.type == "run_finished":
            progress.end(run_token(self.run_id), event.action)
            for agent in self.states:
                progress.end(agent_token(self.run_id, agent), "run ended")
        elif event.type in ("agent_started", "agent_finished", "agent_waiting", "agent_queued", "signal"):
            progress.update(run_token(self.run_id), *self.line())


class AttachedRuns:
    """The runs this server follows from elsewhere, by run id."""

    def __init__(self) -> None:
        self.runs: dict[str, Attached] = {}


async def attach_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import AttachParams, AttachResult

    params = parse(AttachParams, Commands.ATTACH, args)
    run_id = params.runId if params.runId != "last" else await _last_run(ls)
    attached = ls.part(AttachedRuns).runs.get(run_id)
    if attached is not None:
        return _result(AttachResult, attached, "already shown")
    if ls.find_run(run_id) is not None:
        raise_invalid(f"{Commands.ATTACH}: run {run_id} runs in this editor: it is shown already")
    engine = await _engine_of_run(ls, run_id)
    history = await engine.events(run_id)
    started = next((e for e in history if e.type in ("run_started", "run_resumed")), None)
    if started is None:
        raise_invalid(f"{Commands.ATTACH}: no such run {run_id} in {engine.log.location}")
    folders = [spec_path(folder.uri) for folder in ls.workspace.folders.values()] or [engine.root]
    paths, spec = await asyncio.to_thread(PathMap.find, str(started.metadata.get("spec", "")), folders)
    attached = Attached(ls, run_id, paths, spec)
    ls.part(RunUI).router.followed[run_id] = str(spec) if spec is not None else ""
    ls.part(AttachedRuns).runs[run_id] = attached
    for start in range(0, len(history), HISTORY_PAGE):  # a long run's past shown without holding the loop
        attached.on_events(history[start : start + HISTORY_PAGE])
        await asyncio.sleep(0)
    if attached.state == "running":
        attached.show()
        attached.stop = engine.log.follow(run_id, history[-1].id, attached.on_events)
    said = "following it" if attached.stop is not None else f"it has ended: {attached.state}"
    return _result(AttachResult, attached, said)


async def _last_run(ls: CounterpointServer) -> str:
    """``last``: the latest run of the workspace's log (the first folder's, when none is open)."""
    engine = ls.any_engine()
    if engine is None:
        folders = [spec_path(folder.uri) for folder in ls.workspace.folders.values()]
        if not folders:
            raise_invalid(f"{Commands.ATTACH}: no workspace folder: give the run's id")
        engine = await ls.engine_for(folders[0] / ".counterpoint")
    run_id = await engine.resolve_run_id("last")
    if run_id is None:
        raise_invalid(f"{Commands.ATTACH}: no runs yet in {engine.log.location}")
    return run_id


def _result(model: Any, attached: Attached, said: str) -> dict[str, Any]:
    where = f" ({attached.spec})" if attached.spec is not None else " (its spec is not in this workspace)"
    result: dict[str, Any] = model(
        runId=attached.run_id,
        spec=str(attached.spec) if attached.spec is not None else None,
        state=attached.state,
        agents=list(attached.states),
        following=attached.stop is not None,
        message=f"run {attached.run_id}{where}: {said}",
    ).model_dump()
    return result


def raise_invalid(message: str) -> NoReturn:
    from pygls.exceptions import JsonRpcInvalidParams

    raise JsonRpcInvalidParams(message)


def register(server: CounterpointServer) -> None:
    runs = AttachedRuns()
    server.add_part(runs)
    server.command(Commands.ATTACH)(answered(Commands.ATTACH)(attach_command))

    def stop_all() -> None:
        for attached in runs.runs.values():
            if attached.stop is not None:
                attached.stop()
                attached.stop = None

    server.close_hooks.append(stop_all)

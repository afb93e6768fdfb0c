"""Code lenses (run all, run one agent, cancel/status while live; apply, discard and show the
changes of the latest ended isolated run), inlay hints (live state), and the coalesced request
that the client refresh both (`ViewRefresh`)."""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.methods import Commands
from lsprotocol import types

from counterpoint.lsp.features import live
from counterpoint.lsp.features.documents import SpecDocuments, spec_of
from counterpoint.lsp.positions import to_lsp_range

if TYPE_CHECKING:
    from counterpoint_protocol.spec import SourceRange, Spec

    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)
REFRESH_S = 0.2
"""Refresh requests are coalesced: at most one per this many seconds."""
RECENT_RUNS = 20
"""How many of the workspace's latest runs the review lenses look through for this spec's."""


def run_dependencies(spec: Spec) -> dict[str, set[str]]:
    """Who waits on whom when the spec runs: needed agents, emitters of needed signals (glob or
    not: the file is usually written by an emitter) and, for integrators, every other agent."""
    from counterpoint.engine.spec import agent_dependencies

    deps = {name: set(found) for name, found in agent_dependencies(spec).items()}
    for agent in spec.agents:
        mine = deps.setdefault(agent.name, set())
        for need in agent.settings.needs:
            mine |= {a.name for a in spec.agents if need in a.settings.emits and a.name != agent.name}
        if agent.settings.integrate:
            mine |= {a.name for a in spec.agents if not a.settings.integrate}
    return deps


def critical_chain(spec: Spec) -> list[str]:
    """The longest chain of agents that wait on each other (by count), first to last."""
    deps = run_dependencies(spec)

    @cache
    def longest(name: str, depth: int = 0) -> tuple[str, ...]:
        if depth > len(deps):
            return (name,)
        best: tuple[str, ...] = ()
        for dep in deps.get(name, set()):
            chain = longest(dep, depth + 1)
            if len(chain) > len(best):
                best = chain
        return (*best, name)

    best: tuple[str, ...] = ()
    for agent in spec.agents:
        chain = longest(agent.name)
        if len(chain) > len(best):
            best = chain
    return list(best)


class ViewRefresh:
    """Asks the client to refresh code lenses and inlay hints, coalesced, if it can."""

    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self._pending: asyncio.TimerHandle | None = None

    def refresh(self) -> None:
        if self._pending is not None:
            return
        self._pending = asyncio.get_running_loop().call_later(REFRESH_S, self._send)

    def _send(self) -> None:
        self._pending = None
        workspace = self.server.client_capabilities.workspace
        if workspace is None:
            return
        if workspace.code_lens and workspace.code_lens.refresh_support:
            self.server.workspace_code_lens_refresh(None)
        if workspace.inlay_hint and workspace.inlay_hint.refresh_support:
            self.server.workspace_inlay_hint_refresh(None)


async def code_lens(ls: CounterpointServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    uri = params.text_document.uri
    spec = await spec_of(ls, uri)
    if spec is None:
        return []
    document = ls.workspace.get_text_document(uri)
    lines, codec = document.lines, document.position_codec
    from counterpoint_protocol.spec import SourceRange

    def lens(source: SourceRange, title: str, command: str, argument: dict[str, Any]) -> types.CodeLens:
        return types.CodeLens(
            range=to_lsp_range(lines, source, codec),
            command=types.Command(title=title, command=command, arguments=[argument]),
        )

    lenses: list[types.CodeLens] = []
    run = live.latest_run(ls, spec)
    live_now = run is not None and live.is_live(run)
    top = spec.title_range or (spec.agents[0].heading_range if spec.agents else SourceRange.on_line(0))
    if spec.agents and not spec.has_errors:
        chain = critical_chain(spec)
        title = f"▶ Run all {len(spec.agents)} agents (critical path {len(chain)}: {' → '.join(chain)})"
        if not live_now:
            lenses.append(lens(top, title, Commands.RUN, {"uri": uri}))
    if live_now and run is not None:
        done, total = live.done_count(run), len(live.agent_names(run))
        lenses.append(lens(top, f"■ Cancel run {run.run_id}", Commands.CANCEL, {"runId": run.run_id}))
        lenses.append(lens(top, f"{done}/{total} agents done", Commands.STATUS, {}))
    if not spec.has_errors:
        for agent in spec.agents:
            state = live.agent_state(run, agent.name) if run is not None else None
            if live_now and state is not None:
                continue
            lenses.append(
                lens(
                    agent.heading_range,
                    f"▶ Run {agent.name}",
                    Commands.RUN,
                    {"uri": uri, "agents": [agent.name]},
                )
            )
            if run is not None and not live_now and state in live.RERUNNABLE:
                lenses.append(
                    lens(
                        agent.heading_range,
                        f"↻ Rerun {agent.name} ({state})",
                        Commands.RERUN,
                        {"runId": run.run_id, "agent": agent.name},
                    )
                )
    if not live_now:
        try:
            found = await review_lenses(ls, spec)
        except Exception:  # the run and log lenses above are still shown
            log.exception("review lenses of %s failed", spec.path)
            found = []
        for where, title, command, argument in found:
            lenses.append(lens(top if where is None else where, title, command, argument))
    return lenses


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


async def review_lenses(
    ls: CounterpointServer, spec: Spec
) -> list[tuple[SourceRange | None, str, str, dict[str, Any]]]:
    """For the latest ended isolated run of this spec still on record (not discarded): apply and
    discard it (``None``: on the title), and show each isolated agent's changes (on its heading).
    From the run's committed events and its integration branch, never from a live run."""
    from counterpoint.engine.engine import RunRefused
    from counterpoint.engine.log import events_url
    from counterpoint.engine.workspace import db_path, find_workspace_root

    def resolved(path: str) -> Path:
        return Path(path).resolve()

    root = await asyncio.to_thread(find_workspace_root, Path(spec.path))

    def has_log() -> bool:  # no run yet: no log is made for a lens
        return db_path(root).exists() or events_url(root) is not None

    if not await asyncio.to_thread(has_log):
        return []
    engine = await ls.engine_for(Path(spec.path))
    mine = await asyncio.to_thread(resolved, str(spec.path))
    for record in await engine.log.runs(RECENT_RUNS):
        if record.status == "running" or await asyncio.to_thread(resolved, record.spec) != mine:
            continue
        started = await engine.events(record.run_id, "run_started")
        if not started or "isolation" not in started[0].metadata:
            continue
        try:
            info = await engine.review().info(record.run_id)
            changes = await engine.diff_run(record.run_id)
        except RunRefused:  # discarded (or its repository is gone): look at an older one
            continue
        run = {"runId": record.run_id}
        found: list[tuple[SourceRange | None, str, str, dict[str, Any]]] = []
        if changes.files:
            found.append(
                (None, f"✓ Apply run {record.run_id} ({_files(len(changes.files))})", Commands.APPLY, run)
            )
        found.append((None, "✗ Discard run", Commands.DISCARD, run))
        for agent in spec.agents:
            changed = info.by_agent.get(agent.name)
            if changed is not None:
                title = f"Show changes of {agent.name} ({_files(changed.file_count)})"
                found.append((agent.heading_range, title, Commands.DIFF, {**run, "agent": agent.name}))
        return found
    return []


async def inlay_hints(ls: CounterpointServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    spec = await spec_of(ls, params.text_document.uri)
    if spec is None:
        return []
    run = live.latest_run(ls, spec)
    if run is None:
        return []
    document = ls.workspace.get_text_document(params.text_document.uri)
    lines, codec = document.lines, document.position_codec
    from counterpoint_protocol.spec import SourceRange

    hints = []
    for agent in spec.agents:
        text = live.agent_hint(run, agent.name)
        if text is None:
            continue
        line = agent.heading_range.line
        if not (params.range.start.line <= line <= params.range.end.line):
            continue
        end = len(lines[line].rstrip("\r\n")) if line < len(lines) else 0
        position = to_lsp_range(lines, SourceRange.on_line(line, end, end), codec).start
        hints.append(types.InlayHint(position=position, label=f"  {text}", padding_left=True))
    return hints


def register(server: CounterpointServer) -> None:
    refresh = ViewRefresh(server)
    server.add_part(refresh)
    server.part(SpecDocuments).on_parsed.append(lambda _uri: refresh.refresh())
    server.feature(types.TEXT_DOCUMENT_CODE_LENS)(code_lens)
    server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))(
        inlay_hints
    )

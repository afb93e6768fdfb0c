"""Code lenses (run all, run one agent, cancel/status while live) and inlay hints (live state)."""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.methods import Commands
from lsprotocol import types

from counterpoint.lsp.positions import to_lsp_range

if TYPE_CHECKING:
    from counterpoint_protocol.spec import SourceRange, Spec

    from counterpoint.engine.run import Run
    from counterpoint.lsp.server import CounterpointServer


def run_dependencies(spec: Spec) -> dict[str, set[str]]:
    """Who waits on whom when the spec runs: needed agents, emitters of needed signals (glob or
    not: the file is usually written by an emitter) and, for integrators, every other agent."""
    from counterpoint.engine.spec_validate import agent_dependencies

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


def live_run(server: CounterpointServer, spec: Spec) -> Run | None:
    runs = [r for e in server.engines.values() for r in e.runs.values() if r.spec.path == spec.path]
    return max(runs, key=lambda r: r.started_mono) if runs else None


def agent_hint(run: Run, name: str) -> str | None:
    agent = run.agents.get(name)
    if agent is None:
        return None
    state = agent.state.value
    if state == "waiting":
        return "waiting on " + ", ".join(sorted(n.removeprefix("agent:") for n in agent.waiting_on))
    if state == "running":
        return f"running {agent.duration or 0:.0f}s"
    if agent.duration is not None and state in ("succeeded", "failed", "timed_out", "cancelled"):
        return f"{state} {agent.duration:.1f}s"
    return state


def register(server: CounterpointServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(ls: CounterpointServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        uri = params.text_document.uri
        spec = await ls.documents.get(uri)
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
        run = live_run(ls, spec)
        live = run is not None and run.state in ("starting", "running")
        top = spec.title_range or (spec.agents[0].heading_range if spec.agents else SourceRange.on_line(0))
        if spec.agents and not spec.has_errors:
            chain = critical_chain(spec)
            title = f"▶ Run all {len(spec.agents)} agents (critical path {len(chain)}: {' → '.join(chain)})"
            if not live:
                lenses.append(lens(top, title, Commands.RUN, {"uri": uri}))
        if live and run is not None:
            done = sum(1 for a in run.agents.values() if a.terminal)
            lenses.append(lens(top, f"■ Cancel run {run.run_id}", Commands.CANCEL, {"runId": run.run_id}))
            lenses.append(lens(top, f"{done}/{len(run.agents)} agents done", Commands.STATUS, {}))
        if not spec.has_errors:
            for agent in spec.agents:
                if live and run is not None and agent.name in run.agents:
                    continue
                lenses.append(
                    lens(
                        agent.heading_range,
                        f"▶ Run {agent.name}",
                        Commands.RUN,
                        {"uri": uri, "agents": [agent.name]},
                    )
                )
                if run is not None and not live and agent.name in run.agents:
                    state = run.agents[agent.name].state.value
                    if state in ("failed", "timed_out", "cancelled", "blocked"):
                        lenses.append(
                            lens(
                                agent.heading_range,
                                f"↻ Rerun {agent.name} ({state})",
                                Commands.RERUN,
                                {"runId": run.run_id, "agent": agent.name},
                            )
                        )
        return lenses

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
    async def inlay_hints(ls: CounterpointServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        spec = await ls.documents.get(params.text_document.uri)
        if spec is None:
            return []
        run = live_run(ls, spec)
        if run is None:
            return []
        document = ls.workspace.get_text_document(params.text_document.uri)
        lines, codec = document.lines, document.position_codec
        from counterpoint_protocol.spec import SourceRange

        hints = []
        for agent in spec.agents:
            text = agent_hint(run, agent.name)
            if text is None:
                continue
            line = agent.heading_range.line
            if not (params.range.start.line <= line <= params.range.end.line):
                continue
            end = len(lines[line].rstrip("\r\n")) if line < len(lines) else 0
            position = to_lsp_range(lines, SourceRange.on_line(line, end, end), codec).start
            hints.append(types.InlayHint(position=position, label=f"  {text}", padding_left=True))
        return hints


_ = time

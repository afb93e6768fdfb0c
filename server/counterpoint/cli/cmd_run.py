"""``counterpoint run SPEC``: run the agents with live progress in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from counterpoint_protocol.spec import Spec

from counterpoint.cli.common import display_path, fail, print_diagnostics
from counterpoint.cli.live import LiveView
from counterpoint.engine.engine import (
    Engine,
    RunRefused,
    SpecHasErrors,
    UnknownAgents,
    check_startable,
    read_spec,
)
from counterpoint.engine.log import EventLogError
from counterpoint.engine.report import render_markdown
from counterpoint.engine.run import GateAnswer, Run, RunOptions, RunView
from counterpoint.engine.workspace import find_workspace_root


def _ask_tty(question: str, choices: str) -> str:
    if not sys.stdin.isatty():
        return ""
    sys.stderr.write(f"{question} {choices} ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower()


def handle(args: argparse.Namespace) -> int:
    if not args.spec.is_file():
        return fail(f"{args.spec}: no such file")
    if args.max_parallel is not None and args.max_parallel < 1:
        return fail("--max-parallel must be at least 1")
    if args.speed <= 0:
        return fail("--speed must be positive")
    try:
        return asyncio.run(_run(args))
    except EventLogError as exc:  # the log cannot record a run: nothing was started
        return fail(str(exc))


async def _run(args: argparse.Namespace) -> int:
    spec = await read_spec(args.spec)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else None
    options = make_options(args, agents)
    try:
        check_startable(spec, options)  # before a log is opened for a spec that cannot run
    except SpecHasErrors:
        print_diagnostics(spec)
        return fail(
            f"{display_path(args.spec)} has errors; fix them (see `counterpoint check`) and run again",
            1,
        )
    except UnknownAgents as exc:
        return fail(f"no such agent: {', '.join(exc.names)} (agents: {', '.join(exc.known)})")
    refusal = await executor_ready(spec, args.executor, agents)
    if refusal is not None:
        return fail(refusal)

    engine = await Engine.open(find_workspace_root(args.spec))
    try:
        try:
            run = await engine.start_run(spec, options)
        except RunRefused as exc:
            return fail(str(exc))
        return await drive(engine, run, quiet=args.quiet)
    finally:
        await engine.aclose()


def make_options(args: argparse.Namespace, agents: list[str] | None = None) -> RunOptions:
    """Run options from the command line (shared by ``run`` and ``resume``)."""

    async def gate(run: RunView, agent: str, question: str) -> GateAnswer:
        answer = await asyncio.to_thread(_ask_tty, question, "[S]tart / s[k]ip / [c]ancel run:")
        return "skip" if answer.startswith("k") else "cancel" if answer.startswith("c") else "start"

    async def consent(workspace: str, what: str) -> bool:
        answer = await asyncio.to_thread(
            _ask_tty,
            f"The spec in {workspace} wants to run `{what}`. Allow commands from this workspace?",
            "[y/N]:",
        )
        return answer in ("y", "yes")

    return RunOptions(
        agents=agents,
        max_parallel=args.max_parallel,
        speed=args.speed,
        trust=args.trust,
        approve_all=args.yes,
        record=getattr(args, "record", False),
        gate_handler=gate if sys.stdin.isatty() else None,
        consent_asker=consent if sys.stdin.isatty() else None,
        extra={
            # Given on the command line, it wins over the user settings' acp_permission.
            **({"acp_permission": args.acp_permission} if getattr(args, "acp_permission", None) else {}),
            **({"executor": args.executor} if getattr(args, "executor", None) else {}),
        },
    )


async def executor_ready(
    spec: Spec | None, chosen: str | None, agents: list[str] | None = None
) -> str | None:
    """Before a run with agents on Ray (``chosen``: ``--executor``): the cluster joined (once per
    process), or why not; a refusal for ``--executor ray`` with agents in the shared workspace."""
    from counterpoint.engine.executors import OPTION, ExecutorError, executor_of, shared_on_ray

    if spec is not None:
        shared = shared_on_ray(spec, agents, chosen or "")
        if shared:
            return (
                f"--executor ray: {', '.join(shared)} work in the shared workspace (isolation: shared); "
                "agents on Ray work in copies of their own: set `isolation: worktree` in the front matter"
            )
        if not any(executor_of(a, {OPTION: chosen}) == "ray" for a in spec.agents):
            return None
    elif chosen != "ray":
        return None
    from counterpoint.engine.executors.ray_cluster import connect

    try:
        await connect()
    except ExecutorError as exc:
        return str(exc)
    return None


async def drive(engine: Engine, run: Run, *, quiet: bool) -> int:
    """Execute ``run`` with the live view, Ctrl-C cancelling it; print the report; the exit code."""
    view = LiveView(run, enabled=not quiet)
    unsubscribe = engine.log.subscribe(view.on_event)
    loop = asyncio.get_running_loop()
    interrupts = 0

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        view.note("cancelling the run (Ctrl-C again to stop at once)")
        run.cancel()
        if interrupts > 1:
            task.cancel()

    task = asyncio.ensure_future(engine.execute(run))
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    loop.add_signal_handler(signal.SIGTERM, on_sigint)
    view.start()
    try:
        report: dict[str, Any] = await task
    except asyncio.CancelledError:
        report = await engine.write_report(run.run_id)
    except (EventLogError, OSError) as exc:  # the log failed mid-run, or the report could not be saved
        failure = engine.log.failure or exc
        if isinstance(failure, EventLogError):
            return fail(log_failure(failure, run, engine.log.lost), 1)
        return fail(f"could not save the report of run {run.run_id}: {exc}", 1)
    finally:
        view.stop()
        unsubscribe()
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
    sys.stdout.write(render_markdown(report))
    sys.stdout.write(f"\nReport: {display_path(report['files']['html'])}\n")
    if engine.log.failure is not None:
        return fail(log_failure(engine.log.failure, run, engine.log.lost), 1)
    state = run.status().state
    if state == "cancelled":
        return 130
    return 0 if state == "succeeded" else 1


def log_failure(error: EventLogError, run: Run, lost: int) -> str:
    """The one line for a run stopped because its events could not be recorded."""
    return f"{error} (run {run.run_id} was stopped: {lost} events could not be recorded)"

"""``counterpoint resume RUN``: continue an interrupted run (killed, crashed, cancelled) under its id.

Agents that succeeded are not run again (their signals come back from the log), agents that were
running start over, and the report at the end covers the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from counterpoint.cli.cmd_run import drive, executor_ready, make_options
from counterpoint.cli.common import fail, workspace_log
from counterpoint.engine.engine import Engine, RunRefused
from counterpoint.engine.log import EventLogError


def handle(args: argparse.Namespace) -> int:
    if args.max_parallel is not None and args.max_parallel < 1:
        return fail("--max-parallel must be at least 1")
    if args.speed <= 0:
        return fail("--speed must be positive")
    try:
        root = workspace_log(args.workspace.resolve())
        if root is None:
            return fail(f"no event log under {args.workspace} (run a spec first)")
        return asyncio.run(_resume(root, args))
    except EventLogError as exc:  # the log cannot be read or cannot record the run
        return fail(str(exc))


async def _resume(root: Path, args: argparse.Namespace) -> int:
    engine = await Engine.open(root)
    try:
        run_id = await engine.resolve_run_id(args.run)
        if run_id is None:
            return fail("no runs yet")
        options = make_options(args)
        refusal = await executor_ready(None, args.executor)
        if refusal is not None:
            return fail(refusal)
        try:
            run = await engine.continue_run(run_id, reason="resume", options=options)
        except RunRefused as exc:
            return fail(str(exc))
        except FileNotFoundError as exc:
            return fail(f"the spec of run {run_id} is gone: {exc.filename}")
        return await drive(engine, run, quiet=args.quiet)
    finally:
        await engine.aclose()

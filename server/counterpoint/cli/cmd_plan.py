"""``counterpoint plan "REQUEST"``: the director writes a checked spec for a one-line request.

Progress goes to stderr as the director works; the result to stdout: the spec written, its
findings as ``counterpoint check`` prints them (when it still has some), the predicted critical
path and speed-up, and what the planning cost. Exit 0 when the spec passes check, 1 when it was
written with errors left or planning failed (no model, an unreachable model, a spent budget...),
130 on Ctrl-C. Nothing runs: the user reads the spec, edits it, then runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from counterpoint.cli.common import display_path, fail, print_diagnostics

if TYPE_CHECKING:
    from counterpoint.engine.director import PlanOutcome


def handle(args: argparse.Namespace) -> int:
    from counterpoint.engine.log import EventLogError

    if not args.request.strip():
        return fail('say what to build, e.g. counterpoint plan "Build a course enrollment feature"')
    if args.rounds is not None and args.rounds < 1:
        return fail("--rounds must be at least 1")
    if args.budget_usd is not None and args.budget_usd < 0:
        return fail("--budget-usd cannot be negative")
    if not args.workspace.is_dir():
        return fail(f"{args.workspace}: no such folder")
    try:
        return asyncio.run(_plan(args))
    except EventLogError as exc:
        return fail(str(exc), 1)


async def _plan(args: argparse.Namespace) -> int:
    from counterpoint.engine.director import PlanFailed, PlanOptions, plan_feature
    from counterpoint.engine.log import open_event_log
    from counterpoint.engine.workspace import find_workspace_root

    root = await asyncio.to_thread(find_workspace_root, args.workspace.resolve() / "x")
    event_log = await open_event_log(root)

    def progress(line: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"director: {line}\n")
            sys.stderr.flush()

    options = PlanOptions(
        request=args.request,
        root=root,
        out=args.out.resolve() if args.out is not None else None,
        overwrite=args.force,
        model=args.model,
        max_rounds=args.rounds,
        budget_usd=args.budget_usd,
        on_progress=progress,
    )
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(plan_feature(event_log, options))
    loop.add_signal_handler(signal.SIGINT, task.cancel)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        outcome = await task
    except asyncio.CancelledError:
        sys.stderr.write("counterpoint: planning cancelled\n")
        return 130
    except PlanFailed as exc:
        return fail(str(exc), 1)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        await event_log.close()
    show(outcome)
    return 0 if outcome.ok else 1


def show(outcome: PlanOutcome) -> None:
    from counterpoint.engine.director import describe

    spec = outcome.spec
    if not outcome.ok:
        print_diagnostics(spec)
    out = sys.stdout.write
    out(f"{outcome.message}\n")
    names = ", ".join(a.name for a in spec.agents)
    cap = f" (max_parallel {spec.max_parallel})" if spec.max_parallel else ""
    out(f"  {len(spec.agents)} agents: {names}{cap}\n")
    if outcome.prediction is not None:
        out(f"  predicted: {describe(outcome.prediction)}\n")
    if outcome.summary:
        out(f"  director: {outcome.summary}\n")
    usage = outcome.usage
    out(
        f"  plan {outcome.plan_id}: {usage.get('requests', 0)} requests, "
        f"{usage.get('input_tokens', 0):,} tokens in, {usage.get('output_tokens', 0):,} out, "
        f"${usage.get('cost_usd', 0.0):.4f}\n"
    )
    target = display_path(outcome.path)
    if outcome.ok:
        out(f"next: read it, edit it, then `counterpoint run {target}`\n")
    else:
        out(f"next: fix the findings above (`counterpoint check {target}`), then run it\n")

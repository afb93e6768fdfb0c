"""``counterpoint report [RUN]``: print a run's report again, or open its HTML."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import webbrowser
from pathlib import Path

from counterpoint.cli.cmd_events import workspace_db
from counterpoint.cli.common import fail
from counterpoint.engine.engine import Engine
from counterpoint.engine.report import render_markdown


def handle(args: argparse.Namespace) -> int:
    path = workspace_db(args.workspace.resolve())
    if path is None:
        return fail(f"no event log under {args.workspace} (run a spec first)")
    return asyncio.run(_report(path.parent.parent, args))


async def _report(root: Path, args: argparse.Namespace) -> int:
    engine = await Engine.open(root)
    try:
        run_id = await engine.resolve_run_id(args.run)
        if run_id is None:
            return fail("no runs yet")
        try:
            report = await engine.write_report(run_id)
        except ValueError:
            return fail(f"no such run: {run_id}")
    finally:
        await engine.aclose()
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_markdown(report))
        sys.stdout.write(f"\nReport: {report['files']['html']}\n")
    if args.open:
        webbrowser.open(Path(report["files"]["html"]).as_uri())
    return 0

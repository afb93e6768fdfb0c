"""``counterpoint report [RUN]``: print a run's report again, or open its HTML.

It only reads the log: a log on a read-only file or folder still gives its reports, and a partly
damaged log gives a report of the events still readable (with a one-line warning, exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from pathlib import Path
from typing import Any

from counterpoint.cli.cmd_events import damaged_message, workspace_db
from counterpoint.cli.common import fail
from counterpoint.engine.engine import save_report
from counterpoint.engine.eventlog import EventLogError, last_run_id, query_events_salvaging
from counterpoint.engine.report import build_report, render_markdown


def handle(args: argparse.Namespace) -> int:
    path = workspace_db(args.workspace.resolve())
    if path is None:
        return fail(f"no event log under {args.workspace} (run a spec first)")
    try:
        return _report(path, args)
    except EventLogError as exc:
        return fail(str(exc))


def _report(path: Path, args: argparse.Namespace) -> int:
    run_id = last_run_id(path) if args.run in (None, "last") else args.run
    if run_id is None:
        return fail("no runs yet")
    events, damage = query_events_salvaging(path, run_id)
    if not events:
        return fail(f"no such run: {run_id}")
    try:
        report: dict[str, Any] = build_report(events)
    except ValueError:
        return fail(f"no such run: {run_id}")
    not_saved: str | None = None
    try:
        report = save_report(path.parent.parent, run_id, report)
    except OSError as exc:
        not_saved = f"could not save the report files under {path.parent / 'runs'}: {exc.strerror or exc}"
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_markdown(report))
        if "files" in report:
            sys.stdout.write(f"\nReport: {report['files']['html']}\n")
    if damage is not None:
        return fail(damaged_message(path, len(events)) + " (this report covers those)", 1)
    if not_saved is not None:
        return fail(not_saved, 1)
    if args.open:
        webbrowser.open(Path(report["files"]["html"]).as_uri())
    return 0

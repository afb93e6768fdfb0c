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

from counterpoint_protocol.events import Event

from counterpoint.cli.common import damaged_message, fail, workspace_log
from counterpoint.engine.engine import save_report
from counterpoint.engine.log import EventLogError, LogReader, open_reader
from counterpoint.engine.report import build_report, log_pages, render_markdown


def handle(args: argparse.Namespace) -> int:
    try:
        root = workspace_log(args.workspace.resolve())
        reader = open_reader(root) if root is not None else None
        if root is None or reader is None:
            return fail(f"no event log under {args.workspace} (run a spec first)")
        try:
            return _report(root, reader, args)
        finally:
            reader.close()
    except EventLogError as exc:
        return fail(str(exc))


def _report(root: Path, reader: LogReader, args: argparse.Namespace) -> int:
    run_id = reader.last_run_id() if args.run in (None, "last") else args.run
    if run_id is None:
        return fail("no runs yet")
    damage: EventLogError | None = None

    def fetch(after: int, limit: int) -> list[Event]:
        nonlocal damage
        page, found = reader.query_salvaging(run_id, after_id=after, limit=limit)
        damage = damage or found
        return page

    try:  # one pass over the log, a page at a time: a run of a million events fits in memory
        report: dict[str, Any] = build_report(log_pages(fetch))
    except ValueError:
        return fail(f"no such run: {run_id}")
    not_saved: str | None = None
    try:
        report = save_report(root, run_id, report)
    except OSError as exc:
        not_saved = (
            f"could not save the report files under {root / '.counterpoint' / 'runs'}: {exc.strerror or exc}"
        )
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_markdown(report))
        if "files" in report:
            sys.stdout.write(f"\nReport: {report['files']['html']}\n")
    if damage is not None:
        return fail(
            damaged_message(Path(reader.location), report["events"]) + " (this report covers those)", 1
        )
    if not_saved is not None:
        return fail(not_saved, 1)
    if args.open:
        webbrowser.open(Path(report["files"]["html"]).as_uri())
    return 0

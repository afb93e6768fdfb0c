"""``counterpoint events``: print the event log (``--json``: one object a line), optionally following it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from counterpoint_protocol.events import Event

from counterpoint.cli.common import damaged_message, fail, workspace_db
from counterpoint.engine.log import EventLogError, last_run_id, query_events_salvaging


def format_event(event: Event) -> str:
    meta = json.dumps(event.metadata, ensure_ascii=False) if event.metadata else ""
    actor = event.actor or "-"
    action = event.action or ""
    return f"{event.timestamp} {event.id:>6} {event.type:<15} {actor:<12} {action} {meta}".rstrip()


def handle(args: argparse.Namespace) -> int:
    path = workspace_db(args.workspace.resolve())
    if path is None:
        return fail(f"no event log under {args.workspace} (run a spec first)")
    try:
        return _print_events(path, args)
    except EventLogError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        return 0


def _print_events(path: Path, args: argparse.Namespace) -> int:
    run_id: str | None = None if args.run == "all" else args.run
    if run_id == "last":
        run_id = last_run_id(path)
        if run_id is None:
            return fail("no runs yet")
    last = 0
    shown = 0
    damage: EventLogError | None = None
    while True:
        events, found = query_events_salvaging(path, run_id, args.type, last, 10_000, args.actor)
        damage = damage or found
        for event in events:
            line = json.dumps(event.model_dump(), ensure_ascii=False) if args.json else format_event(event)
            sys.stdout.write(line + "\n")
            last = event.id
        shown += len(events)
        sys.stdout.flush()
        if not args.follow:
            if len(events) < 10_000:
                break
            continue
        if any(e.type == "run_finished" for e in events) and run_id is not None:
            break
        if not events:
            time.sleep(0.2)
    if damage is not None:
        return fail(damaged_message(path, shown), 1)
    return 0

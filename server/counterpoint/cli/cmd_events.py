"""``counterpoint events``: print the event log (``--json``: one object a line), optionally following it.

The log is the workspace's (its SQLite file, or the PostgreSQL database the user configured).
``--follow`` keeps printing what any process appends: on PostgreSQL it sleeps on LISTEN and wakes
on the writers' NOTIFY, on SQLite it watches the file; it ends when the run it follows finishes
(``--run all``: never). ``--migrate`` upgrades a PostgreSQL log to this version's schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from counterpoint_protocol.events import Event

from counterpoint.cli.common import damaged_message, fail
from counterpoint.engine.log import EventLogError, LogReader, migrate, open_reader

PAGE = 10_000
WAIT_S = 1.0


def format_event(event: Event) -> str:
    meta = json.dumps(event.metadata, ensure_ascii=False) if event.metadata else ""
    actor = event.actor or "-"
    action = event.action or ""
    return f"{event.timestamp} {event.id:>6} {event.type:<15} {actor:<12} {action} {meta}".rstrip()


def handle(args: argparse.Namespace) -> int:
    from counterpoint.engine.workspace import find_workspace_root

    root = find_workspace_root(args.workspace.resolve() / "x")
    try:
        if getattr(args, "migrate", False):
            where, before, after = migrate(root)
            said = f"already at schema {after}" if before == after else f"schema {before} -> {after}"
            sys.stdout.write(f"{where}: {said}\n")
            return 0
        reader = open_reader(root)
        if reader is None:
            return fail(f"no event log under {args.workspace} (run a spec first)")
        try:
            return _print_events(reader, args)
        finally:
            reader.close()
    except EventLogError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # the usual end of --follow
        return 0


def _print_events(reader: LogReader, args: argparse.Namespace) -> int:
    run_id: str | None = None if args.run == "all" else args.run
    if run_id == "last":
        run_id = reader.last_run_id()
        if run_id is None:
            return fail("no runs yet")
    filtered = args.type is not None or args.actor is not None
    last = 0
    shown = 0
    damage: EventLogError | None = None
    while True:
        # Asked before the read: a run that had finished then has nothing more to show after it.
        ended = args.follow and run_id is not None and filtered and _finished(reader, run_id)
        events, found = reader.query_salvaging(run_id, args.type, last, PAGE, args.actor)
        damage = damage or found
        for event in events:
            line = json.dumps(event.model_dump(), ensure_ascii=False) if args.json else format_event(event)
            sys.stdout.write(line + "\n")
            last = event.id
        shown += len(events)
        sys.stdout.flush()
        if len(events) >= PAGE:
            continue
        if not args.follow:
            break
        if run_id is not None and (ended or any(e.type == "run_finished" for e in events)):
            break
        reader.wait(WAIT_S, run_id)
    if damage is not None:
        return fail(damaged_message(Path(reader.location), shown), 1)
    return 0


def _finished(reader: LogReader, run_id: str) -> bool:
    """Whether the run has finished (with ``--type``/``--actor`` its ``run_finished`` is not among
    the events shown)."""
    return bool(reader.query(run_id, "run_finished", limit=1))

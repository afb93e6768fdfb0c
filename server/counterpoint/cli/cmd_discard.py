"""``counterpoint discard RUN [--yes]``: delete an ended isolated run's branches, refs and working
copies (after asking, unless ``--yes``). The working tree is not touched."""

from __future__ import annotations

import argparse
import sys

from counterpoint.cli.cmd_diff import with_engine
from counterpoint.cli.common import fail


def handle(args: argparse.Namespace) -> int:
    from counterpoint_protocol.messages import DiscardResult

    if not args.yes:
        which = "the last run" if args.run == "last" else f"run {args.run}"
        if not sys.stdin.isatty():
            return fail(f"discard deletes the branches and working copies of {which}: pass --yes to confirm")
        sys.stderr.write(f"Delete the branches and working copies of {which}? [y/N] ")
        sys.stderr.flush()
        if not sys.stdin.readline().strip().lower().startswith("y"):
            return fail("nothing discarded", 1)

    def show(result: DiscardResult) -> int:
        refs, copies = len(result.refs), len(result.working_copies)
        sys.stdout.write(
            f"Discarded run {result.runId}: deleted {refs} ref{'s' if refs != 1 else ''} (its branches "
            f"and base), removed {copies} working cop{'ies' if copies != 1 else 'y'}.\n"
        )
        return 0

    return with_engine(args, lambda engine, run: engine.discard_run(run), show)

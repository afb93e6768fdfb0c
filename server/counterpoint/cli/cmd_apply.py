"""``counterpoint apply RUN``: bring an ended isolated run's changes into the working tree.

The run's merged work (its integration branch against its base) is written into the files of the
working tree; nothing is staged or committed, HEAD and the branches do not move, and changes of
your own stay as they are. Refused, naming the files, when the tree changed in a way that conflicts.
"""

from __future__ import annotations

import argparse
import sys

from counterpoint.cli.cmd_diff import stat_lines, with_engine
from counterpoint.cli.common import display_path


def handle(args: argparse.Namespace) -> int:
    from counterpoint_protocol.messages import ApplyResult

    def show(result: ApplyResult) -> int:
        if not result.files:
            sys.stdout.write(f"run {result.runId} changed nothing: nothing to apply\n")
            return 0
        sys.stdout.write(f"Applied run {result.runId} to your working tree (nothing staged or committed):\n")
        for line in stat_lines(result.files):
            sys.stdout.write(f"  {line}\n")
        where = display_path(result.files[0].abs_path or result.files[0].path)
        sys.stdout.write(f"Review with `git diff` (e.g. {where}), then commit.\n")
        return 0

    return with_engine(args, lambda engine, run: engine.apply_run(run), show)

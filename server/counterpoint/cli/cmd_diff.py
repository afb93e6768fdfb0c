"""``counterpoint diff RUN [AGENT]``: what an isolated run changed (the patch, ``--stat`` or ``--json``).

Without an agent: the run's merged work against its base (what ``counterpoint apply`` would bring
into the working tree); with one: that agent's work, from the commit it started on to its branch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from counterpoint.cli.common import fail, workspace_log

if TYPE_CHECKING:
    from counterpoint_protocol.messages import FileChange

    from counterpoint.engine.engine import Engine

T = TypeVar("T")


def handle(args: argparse.Namespace) -> int:
    from counterpoint_protocol.messages import DiffResult

    def show(result: DiffResult) -> int:
        if args.json:
            sys.stdout.write(result.model_dump_json(indent=2, exclude={"patch"}) + "\n")
        elif args.stat:
            sys.stdout.write("".join(line + "\n" for line in stat_lines(result.files)))
        elif result.patch:
            sys.stdout.flush()
            sys.stdout.buffer.write(result.patch.encode("utf-8", "surrogateescape"))
            sys.stdout.buffer.flush()
        return 0

    patch = not (args.json or args.stat)
    return with_engine(args, lambda engine, run: engine.diff_run(run, args.agent, patch=patch), show)


def with_engine(
    args: argparse.Namespace,
    work: Callable[[Engine, str], Awaitable[T]],
    show: Callable[[T], int],
) -> int:
    """Open the workspace's engine, resolve ``args.run`` (an id or ``last``), do ``work``, then
    ``show`` its result; refusals and log errors are one line on stderr and exit 2."""
    from counterpoint.engine.log import EventLogError

    folder: Path = args.workspace.resolve()
    try:
        root = workspace_log(folder)
    except EventLogError as exc:
        return fail(str(exc))
    if root is None:
        return fail(f"no event log under {args.workspace} (run a spec first)")

    async def go() -> int:
        from counterpoint.engine.engine import Engine, RunRefused

        engine = await Engine.open(root)
        try:
            run_id = await engine.resolve_run_id(args.run)
            if run_id is None:
                return fail("no runs yet")
            try:
                result = await work(engine, run_id)
            except RunRefused as exc:
                return fail(str(exc))
        finally:
            await engine.aclose()
        return show(result)

    try:
        return asyncio.run(go())
    except EventLogError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        return 0


def stat_lines(files: list[FileChange]) -> list[str]:
    """One line a file (``modified  app/x.py  +3 -1``) and a total."""
    if not files:
        return ["no changes"]
    width = max(len(f.status) for f in files)
    lines = []
    for f in files:
        name = f"{f.old_path} -> {f.path}" if f.old_path and f.old_path != f.path else f.path
        counts = "binary" if f.binary else f"+{f.added} -{f.removed}"
        lines.append(f"{f.status:<{width}}  {name}  {counts}")
    added, removed = sum(f.added for f in files), sum(f.removed for f in files)
    lines.append(f"{len(files)} file{'s' if len(files) != 1 else ''} changed, +{added} -{removed}")
    return lines

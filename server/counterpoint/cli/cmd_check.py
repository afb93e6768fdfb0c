"""``counterpoint check SPEC``: validate without running."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from counterpoint_protocol.spec import Spec

from counterpoint.cli.common import display_path, fail, print_diagnostics
from counterpoint.engine.engine import read_spec


def handle(args: argparse.Namespace) -> int:
    total_errors = 0
    for path in args.specs:
        if not path.is_file():
            return fail(f"{path}: no such file")
        spec = asyncio.run(_read(path))
        errors, warnings = print_diagnostics(spec)
        total_errors += errors
        sys.stderr.write(
            f"{display_path(path)}: {len(spec.agents)} agents, {errors} errors, {warnings} warnings\n"
        )
    return 1 if total_errors else 0


async def _read(path: Path) -> Spec:
    """The spec and its findings; with agents on Ray and a cluster named or running here, also
    the resources no node of that cluster could give."""
    spec = await read_spec(path)
    if any(a.settings.executor == "ray" for a in spec.agents):
        from counterpoint.engine.executors.cluster_check import cluster_findings

        spec.diagnostics.extend(await cluster_findings(spec))
    return spec

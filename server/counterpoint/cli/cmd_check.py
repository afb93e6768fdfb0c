"""``counterpoint check SPEC``: validate without running."""

from __future__ import annotations

import argparse
import asyncio
import sys

from counterpoint.cli.common import display_path, fail, print_diagnostics
from counterpoint.engine.engine import read_spec


def handle(args: argparse.Namespace) -> int:
    total_errors = 0
    for path in args.specs:
        if not path.is_file():
            return fail(f"{path}: no such file")
        spec = asyncio.run(read_spec(path))
        errors, warnings = print_diagnostics(spec)
        total_errors += errors
        sys.stderr.write(
            f"{display_path(path)}: {len(spec.agents)} agents, {errors} errors, {warnings} warnings\n"
        )
    return 1 if total_errors else 0

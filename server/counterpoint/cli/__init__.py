"""The ``counterpoint`` command line: a thin face over the engine.

Subcommands live one per module: check, run (and resume), events, report, lsp.
"""

from __future__ import annotations

import argparse
import logging
import sys

from counterpoint import __version__


def build_parser() -> argparse.ArgumentParser:
    from counterpoint.cli import cmd_check, cmd_events, cmd_lsp, cmd_report, cmd_run

    parser = argparse.ArgumentParser(
        prog="counterpoint",
        description="Run parallel coding agents on a Markdown spec, coordinated by events.",
    )
    parser.add_argument("--version", action="version", version=f"counterpoint {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (cmd_check, cmd_run, cmd_events, cmd_report, cmd_lsp):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())

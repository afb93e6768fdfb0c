"""The ``counterpoint`` command line: a thin face over the engine.

Subcommands live one per module: check, run (and resume), events, report, diff, apply, discard, plan,
lsp.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from counterpoint import __version__

ACP_PERMISSIONS = ("allow_once", "allow_always", "allow_all", "reject")
"""The ``acp_permission`` policies (`counterpoint.engine.runners.acp_client.PERMISSION_POLICIES`,
not imported here so that the language server starts fast)."""
ACP_PERMISSION_HELP = (
    "how ACP agents' permission requests are answered (default: the user settings' "
    "acp_permission, else allow_once)"
)
EXECUTORS = ("local", "ray")
"""`counterpoint.engine.executors.EXECUTORS` (not imported here either)."""
EXECUTOR_HELP = (
    "where every agent runs (but integrators): local (this process) or ray (a Ray cluster, at "
    "RAY_ADDRESS; agents in copies of their own); default: each agent's executor setting"
)


def build_parser() -> argparse.ArgumentParser:
    """The parser; each subcommand's module is imported only when it runs (the LSP starts fast)."""
    parser = argparse.ArgumentParser(
        prog="counterpoint",
        description="Run parallel coding agents on a Markdown spec, coordinated by events.",
    )
    parser.add_argument("--version", action="version", version=f"counterpoint {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("check", help="validate specs without running them")
    p.add_argument("specs", nargs="+", type=Path, metavar="SPEC")
    p.set_defaults(handler="counterpoint.cli.cmd_check:handle")
    p = sub.add_parser("run", help="run a spec's agents")
    p.add_argument("spec", type=Path, metavar="SPEC")
    p.add_argument("--agents", help="comma-separated agents to run (with what they need)")
    p.add_argument("--max-parallel", type=int, help="most agents running at once")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay: scale recorded durations (2 = twice as fast)",
    )
    p.add_argument("--trust", action="store_true", help="allow the commands this spec asks to run")
    p.add_argument("--yes", action="store_true", help="approve every gate")
    p.add_argument("--record", action="store_true", help="save LLM agents' sessions as replay transcripts")
    p.add_argument("--acp-permission", choices=ACP_PERMISSIONS, help=ACP_PERMISSION_HELP)
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.add_argument("--executor", choices=EXECUTORS, help=EXECUTOR_HELP)
    p.set_defaults(handler="counterpoint.cli.cmd_run:handle")
    p = sub.add_parser("resume", help="continue an interrupted run: what succeeded is not run again")
    p.add_argument("run", metavar="RUN", help="the run's id, or 'last'")
    p.add_argument("--max-parallel", type=int, help="most agents running at once")
    p.add_argument("--speed", type=float, default=1.0, help="replay: scale recorded durations")
    p.add_argument("--trust", action="store_true", help="allow the commands this spec asks to run")
    p.add_argument("--yes", action="store_true", help="approve every gate")
    p.add_argument("--acp-permission", choices=ACP_PERMISSIONS, help=ACP_PERMISSION_HELP)
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.add_argument("--executor", choices=EXECUTORS, help=EXECUTOR_HELP)
    p.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: here)")
    p.set_defaults(handler="counterpoint.cli.cmd_resume:handle")
    p = sub.add_parser("events", help="print the event log")
    p.add_argument("--run", default="last", help="run id, or 'last' (default), or 'all'")
    p.add_argument("--type", help="only events of this type")
    p.add_argument("--actor", help="only events of this actor (agent or check)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events, from any process")
    p.add_argument("--migrate", action="store_true", help="upgrade a PostgreSQL event log's schema")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: here)")
    p.set_defaults(handler="counterpoint.cli.cmd_events:handle")
    p = sub.add_parser("report", help="print a run's report (default: the last run)")
    p.add_argument("run", nargs="?", default="last")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--open", action="store_true", help="open the HTML report in a browser")
    p.add_argument("--workspace", type=Path, default=Path.cwd())
    p.set_defaults(handler="counterpoint.cli.cmd_report:handle")
    p = sub.add_parser("diff", help="show what an isolated run (or one of its agents) changed")
    p.add_argument("run", metavar="RUN", help="the run's id, or 'last'")
    p.add_argument("agent", nargs="?", metavar="AGENT", help="only this agent's changes")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--stat", action="store_true", help="the changed files with +/- counts")
    shown.add_argument("--json", action="store_true", help="the changed files as JSON")
    p.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: here)")
    p.set_defaults(handler="counterpoint.cli.cmd_diff:handle")
    p = sub.add_parser("apply", help="bring an isolated run's changes into the working tree")
    p.add_argument("run", metavar="RUN", help="the run's id, or 'last'")
    p.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: here)")
    p.set_defaults(handler="counterpoint.cli.cmd_apply:handle")
    p = sub.add_parser("discard", help="delete an isolated run's branches and working copies")
    p.add_argument("run", metavar="RUN", help="the run's id, or 'last'")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: here)")
    p.set_defaults(handler="counterpoint.cli.cmd_discard:handle")
    p = sub.add_parser("plan", help="the director: a checked spec for a one-line feature request")
    p.add_argument(
        "request", metavar="REQUEST", help='what to build, e.g. "Build a course enrollment feature"'
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="where to write the spec (a *.agents.md)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--model", help="openai:<name> or anthropic:<name> (default: director.model in settings)")
    p.add_argument("--rounds", type=int, help="drafts checked at most, repairs included (default 3)")
    p.add_argument("--budget-usd", type=float, help="most the planning may spend")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: here)")
    p.set_defaults(handler="counterpoint.cli.cmd_plan:handle")
    p = sub.add_parser("lsp", help="start the language server")
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP address instead")
    p.set_defaults(handler="counterpoint.cli.cmd_lsp:handle")
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
        module_name, _, function = args.handler.partition(":")
        handler = getattr(importlib.import_module(module_name), function)
        code: int = handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())

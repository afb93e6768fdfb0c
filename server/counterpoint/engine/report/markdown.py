"""The run report as Markdown (what the CLI prints, and ``report.md``)."""

from __future__ import annotations

from typing import Any

from counterpoint.engine.report.isolation import markdown_lines


def _usage_row(name: str, u: dict[str, Any]) -> str:
    inp = int(u.get("input_tokens", 0))
    cached = int(u.get("cache_read_tokens", 0))
    share = f"{100 * cached / inp:.0f}%" if inp else "-"
    return (
        f"| {name} | {inp} | {cached} ({share}) | {int(u.get('output_tokens', 0))} | "
        f"{int(u.get('requests', 0))} | ${float(u.get('cost_usd', 0)):.4f} |"
    )


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (also what the CLI prints)."""
    lines = [
        f"# Run {report['run_id']}: {report.get('feature') or report.get('spec')}",
        "",
        f"**{report['status']}** in {report['wall_s']:.2f} s wall; busy {report['busy_s']:.2f} s; "
        f"parallelism {report['parallelism']:.2f}x (busy / wall).",
        "",
        "| agent | status | start | end | duration | released by |",
        "|---|---|---:|---:|---:|---|",
    ]
    for agent in report["agents"]:

        def fmt(value: float | None) -> str:
            return f"{value:.2f}s" if value is not None else "-"

        status = agent["status"] + (f" ({agent['error']})" if agent.get("error") else "")
        lines.append(
            f"| {agent['name']} | {status} | {fmt(agent['start_s'])} | {fmt(agent['end_s'])} | "
            f"{fmt(agent['duration_s'])} | {agent.get('released_by') or '-'} |"
        )
    crit = report["critical_path"]
    lines += [
        "",
        f"Critical path: {' -> '.join(crit['agents']) or '-'} ({crit['length_s']:.2f} s).",
    ]
    if report["signals"]:
        lines += [
            "",
            "Signals: "
            + ", ".join(
                f"{s['name']} at {s['at_s']:.2f}s"
                + (f" (by {s['actor']})" if s.get("actor") else "")
                + (f" (file, from {s['by']})" if s.get("by") and not s.get("actor") else "")
                + (f" -> {', '.join(s['released'])}" if s["released"] else "")
                for s in report["signals"]
            )
            + ".",
        ]
    ctx = report.get("context") or {}
    if ctx:
        lines += [
            "",
            f"Shared context: {ctx.get('bytes_loaded', 0)} bytes (~{ctx.get('tokens_loaded', 0)} tokens) loaded once "
            f"for {ctx.get('agents', 0)} agents; loading it per agent would have cost {ctx.get('bytes_per_agent_load', 0)} "
            f"bytes (~{ctx.get('tokens_per_agent_load', 0)} tokens).",
        ]
    integration = report.get("integration") or {}
    if integration.get("found"):
        lines += [
            "",
            f"Integration issues: {integration['found']} found, {integration['early']} early (before the last "
            f"building agent finished at {integration['builders_finished_at_s'] or 0:.2f}s), "
            f"{integration['fixed']} fixed, {integration['open']} open.",
            "",
        ]
        for issue in integration["issues"]:
            where = f"{issue['path']}:{issue['line']}" if issue.get("line") else (issue.get("path") or "")
            state = f"fixed at {issue['fixed_at_s']:.2f}s" if issue["fixed"] else "open"
            early = "early" if issue["early"] else "late"
            lines.append(
                f"- [{issue['check']}] {where}: {issue['message']} (found at {issue['found_at_s']:.2f}s, {early}; {state})"
            )
    usage = report.get("usage") or {}
    if usage:
        lines += [
            "",
            "| agent | input tokens | cached | output tokens | requests | cost |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        totals: dict[str, float] = {}
        for agent, u in usage.items():
            for key, value in u.items():
                totals[key] = totals.get(key, 0) + value
            lines.append(_usage_row(agent, u))
        lines.append(_usage_row("**total**", totals))
    lines += markdown_lines(report.get("isolation"))
    if report.get("shared_writes"):
        lines += [
            "",
            "Files written by more than one agent: "
            + "; ".join(f"{p} ({', '.join(w)})" for p, w in report["shared_writes"].items()),
        ]
    return "\n".join(lines) + "\n"

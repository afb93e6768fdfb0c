"""The self-contained HTML report: a timeline picture of the run, then its figures and agents.

`render_html(report)` turns the dict of `report.build_report` into one HTML
page with inline CSS and an inline SVG, no scripts and no external assets
(tooltips are SVG ``<title>`` elements). The timeline draws one bar per agent
from start to end coloured by status, a thin waiting segment before it,
diamonds where agents fired signals (a file-fired one, hollow, on the row of the
agent whose write fired it, or on a top lane when that is not known),
arrows from each signal (or finished agent) to the agents it released, and
the critical path outlined. Every piece of text from the run is escaped.
"""

from __future__ import annotations

from typing import Any

from counterpoint.engine.report.isolation import html as isolation_html
from counterpoint.engine.report.markup import esc
from counterpoint.engine.report.timeline import render_timeline

TIMES = "\u00d7"  # the multiplication sign of "2.06x"
STATUS_COLOURS = {
    "succeeded": "#2f9e5b",
    "failed": "#d64545",
    "timed_out": "#ef8a17",
    "cancelled": "#b5a86a",
    "blocked": "#c2b480",
    "skipped": "#b9b9a8",
    "running": "#3b7ddd",
}
CSS = """
:root { --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --card:#fff; --crit:#6d28d9; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
main { max-width:1320px; margin:0 auto; padding:24px 28px 40px; }
header { display:flex; align-items:baseline; gap:14px; flex-wrap:wrap; margin-bottom:4px; }
h1 { font-size:22px; margin:0; }
h2 { font-size:16px; margin:28px 0 10px; }
.sub { color:var(--muted); font-size:13px; margin-bottom:16px; word-break:break-all; }
.badge { display:inline-block; padding:1px 9px; border-radius:10px; color:#fff; font-size:12px;
  font-weight:600; letter-spacing:.02em; }
.figures { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:10px;
  margin-bottom:16px; }
.fig { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:9px 13px; }
.fig b { display:block; font-size:20px; font-variant-numeric:tabular-nums; }
.fig span { color:var(--muted); font-size:12px; }
.picture { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:12px 12px 4px; }
.picture svg { display:block; width:100%; height:auto; }
.legend { display:flex; flex-wrap:wrap; gap:6px 16px; font-size:12px; color:var(--muted);
  margin:0 4px 8px; }
.legend i { display:inline-block; width:14px; height:10px; border-radius:2px; margin-right:5px;
  vertical-align:-1px; }
.cols { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:24px; }
@media (max-width: 900px) { .cols { grid-template-columns:1fr; } }
dl { display:grid; grid-template-columns:max-content 1fr; gap:5px 16px; margin:0;
  background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
dt { color:var(--muted); } dd { margin:0; font-variant-numeric:tabular-nums; }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line);
  border-radius:8px; overflow:hidden; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { background:#f0f2f5; font-weight:600; font-size:12px; color:#475467; }
td.num, th.num { text-align:right; white-space:nowrap; }
tr:last-child td { border-bottom:0; }
td.err { color:#b42318; max-width:420px; word-break:break-word; }
code { font:12px ui-monospace,SFMono-Regular,Menlo,monospace; background:#f0f2f5; padding:0 4px;
  border-radius:3px; }
.crit { color:var(--crit); font-weight:600; }
.muted { color:var(--muted); }
ul.plain { margin:0; padding:10px 16px 10px 30px; background:var(--card);
  border:1px solid var(--line);
  border-radius:8px; }
footer { margin-top:28px; color:var(--muted); font-size:12px; }
"""


def _secs(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return esc(value) if value is not None else "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#98a2b3")
    return f'<span class="badge" style="background:{colour}">{esc(status)}</span>'


def render_html(report: dict[str, Any]) -> str:
    """The whole report page as one self-contained HTML document."""
    title = report.get("feature") or report.get("spec") or report.get("run_id", "run")
    agents: list[dict[str, Any]] = list(report.get("agents") or [])
    parts = [
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width, initial-scale=1">',
        f"<title>Run {esc(report.get('run_id', ''))}: {esc(title)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<header><h1>{esc(title)}</h1>{_badge(str(report.get('status', 'unknown')))}</header>",
        f'<div class="sub">run <code>{esc(report.get("run_id", ""))}</code>'
        + (f" · spec {esc(report['spec'])}" if report.get("spec") else "")
        + (f" · started {esc(report['started_at'])}" if report.get("started_at") else "")
        + "</div>",
        _figures(report, agents),
        '<div class="picture">',
        _legend(agents, report),
        render_timeline(report, STATUS_COLOURS),
        "</div>",
        _summary_and_findings(report),
        "<h2>Agents</h2>",
        _agent_table(report, agents),
        isolation_html(report.get("isolation")),
        f"<footer>Counterpoint · {_number(report.get('events'))} events · "
        "times are seconds from the start of the run</footer>",
        "</main></body></html>\n",
    ]
    return "\n".join(p for p in parts if p)


def _summary_and_findings(report: dict[str, Any]) -> str:
    side = "\n".join(p for p in (_findings(report), _usage(report)) if p)
    summary = "<h2>Summary</h2>" + _summary(report)
    if not side:
        return summary
    return f'<div class="cols"><div>{summary}</div><div>{side}</div></div>'


def _figures(report: dict[str, Any], agents: list[dict[str, Any]]) -> str:
    crit = report.get("critical_path") or {}
    wall = report.get("wall_s") or 0
    length = crit.get("length_s") or 0
    done = sum(1 for a in agents if a.get("status") == "succeeded")
    cells = [
        (_secs(report.get("wall_s")), "wall time"),
        (_secs(report.get("busy_s")), "busy (sum of agents)"),
        (f"{report.get('parallelism', 0):.2f}{TIMES}", "parallelism (busy / wall)"),
        (_secs(length), "critical path" + (f" ({length / wall:.0%} of wall)" if wall else "")),
        (f"{done} / {len(agents)}", "agents succeeded"),
    ]
    body = "".join(
        f'<div class="fig"><b>{value}</b><span>{esc(label)}</span></div>' for value, label in cells
    )
    return f'<div class="figures">{body}</div>'


def _legend(agents: list[dict[str, Any]], report: dict[str, Any]) -> str:
    present = [s for s in STATUS_COLOURS if any(a.get("status") == s for a in agents)]
    items = [f'<span><i style="background:{STATUS_COLOURS[s]}"></i>{esc(s)}</span>' for s in present]
    items.append('<span><i style="height:2px;background:#98a2b3;vertical-align:3px"></i>waiting</span>')
    if report.get("signals"):
        items.append('<span><b style="color:#1d2330">◆</b> signal fired</span>')
        items.append('<span><b style="color:#475467">→</b> released an agent</span>')
    if (report.get("critical_path") or {}).get("agents"):
        items.append(
            '<span><i style="background:none;border:2px solid #6d28d9"></i>'
            '<span class="crit">critical path</span></span>'
        )
    return f'<div class="legend">{"".join(items)}</div>'


def _summary(report: dict[str, Any]) -> str:
    crit = report.get("critical_path") or {}
    chain = " → ".join(esc(name) for name in crit.get("agents") or []) or "-"
    rows = [
        ("status", _badge(str(report.get("status", "unknown")))),
        ("wall time", _secs(report.get("wall_s"))),
        (
            "busy time",
            _secs(report.get("busy_s")) + ' <span class="muted">(sum of agent durations)</span>',
        ),
        (
            "parallelism",
            f"{report.get('parallelism', 0):.2f}{TIMES} achieved"
            + (f" · max_parallel {esc(report['max_parallel'])}" if report.get("max_parallel") else ""),
        ),
        ("critical path", f'<span class="crit">{chain}</span> ({_secs(crit.get("length_s"))})'),
    ]
    ctx = report.get("context") or {}
    if ctx:
        rows.append(("context loaded once", _context_text(ctx, "bytes_loaded", "tokens_loaded")))
        rows.append(
            (
                "loaded per agent",
                _context_text(ctx, "bytes_per_agent_load", "tokens_per_agent_load")
                + f' <span class="muted">({_number(ctx.get("agents"))} agents)</span>',
            )
        )
        if ctx.get("missing"):
            rows.append(("missing context", ", ".join(f"<code>{esc(m)}</code>" for m in ctx["missing"])))
    signals = report.get("signals") or []
    if signals:
        rows.append(
            (
                "signals",
                "<br>".join(
                    f"<code>{esc(s.get('name'))}</code> at {_secs(s.get('at_s'))}"
                    + (
                        f" by {esc(s['actor'])}"
                        if s.get("actor")
                        else f" (file, from {esc(s['by'])})"
                        if s.get("by")
                        else " (file)"
                    )
                    + (f" → {', '.join(esc(r) for r in s['released'])}" if s.get("released") else "")
                    for s in signals
                ),
            )
        )
    shared = report.get("shared_writes") or {}
    if shared:
        rows.append(
            (
                "written by several",
                "<br>".join(
                    f"<code>{esc(path)}</code> ({', '.join(esc(w) for w in who)})"
                    for path, who in shared.items()
                ),
            )
        )
    for notice in report.get("notices") or []:
        rows.append(("notice", esc(notice)))
    body = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl>{body}</dl>"


def _context_text(ctx: dict[str, Any], bytes_key: str, tokens_key: str) -> str:
    text = f"{_number(ctx.get(bytes_key, 0))} bytes"
    tokens = ctx.get(tokens_key)
    if isinstance(tokens, int | float) and not isinstance(tokens, bool):
        text += f" (~{_number(tokens)} tokens)"
    return text


def _findings(report: dict[str, Any]) -> str:
    out: list[str] = []
    findings = report.get("findings") or []
    if findings:
        items = []
        for f in findings[:200]:
            where = esc(f.get("path") or "?") + (f":{esc(f['line'])}" if f.get("line") is not None else "")
            meta = " · ".join(
                x
                for x in (
                    esc(f["check"]) if f.get("check") else "",
                    _secs(f.get("at_s")) if f.get("at_s") is not None else "",
                )
                if x
            )
            items.append(
                f"<li><code>{where}</code> {esc(f.get('message', ''))}"
                + (f' <span class="muted">({meta})</span>' if meta else "")
                + "</li>"
            )
        more = f'<li class="muted">… {len(findings) - 200} more</li>' if len(findings) > 200 else ""
        out.append(f"<h2>Findings ({len(findings)})</h2><ul class=plain>{''.join(items)}{more}</ul>")
    checks = report.get("checks") or {}
    if checks:
        rows = "".join(
            f"<tr><td>{esc(name)}</td><td class=num>{_number(c.get('runs'))}</td>"
            f"<td>{esc(c.get('status', c.get('exit_code', '-')))}</td>"
            f"<td class=num>{_secs(c.get('last_at_s'))}</td></tr>"
            for name, c in checks.items()
        )
        out.append(
            "<h2>Checks</h2><table><tr><th>check</th><th class=num>runs</th><th>last result</th>"
            f"<th class=num>last at</th></tr>{rows}</table>"
        )
    integration = report.get("integration")
    if integration:
        out.append(_integration(integration))
    return "\n".join(out)


def _integration(integration: dict[str, Any]) -> str:
    head = (
        f"<h2>Integration issues</h2><p>{_number(integration.get('found'))} found, "
        f"<b>{_number(integration.get('early'))} early</b> (before the last building agent finished at "
        f"{_secs(integration.get('builders_finished_at_s'))}), {_number(integration.get('fixed'))} fixed, "
        f"{_number(integration.get('open'))} open.</p>"
    )
    rows = "".join(
        f"<tr><td>{esc(i.get('check'))}</td>"
        f"<td><code>{esc(i.get('path') or '')}{':' + esc(i['line']) if i.get('line') else ''}</code></td>"
        f"<td>{esc(i.get('message'))}</td><td class=num>{_secs(i.get('found_at_s'))}</td>"
        f"<td>{'early' if i.get('early') else 'late'}</td>"
        f"<td class=num>{_secs(i.get('fixed_at_s')) if i.get('fixed') else 'open'}</td></tr>"
        for i in (integration.get("issues") or [])[:200]
    )
    if not rows:
        return head
    return (
        head + "<table><tr><th>check</th><th>where</th><th>issue</th><th class=num>found</th><th>when</th>"
        f"<th class=num>fixed</th></tr>{rows}</table>"
    )


def _generic(value: Any, depth: int = 0) -> str:
    """Any JSON-like value as nested lists (for report sections whose shape may grow)."""
    if isinstance(value, dict) and depth < 3:
        body = "".join(f"<dt>{esc(k)}</dt><dd>{_generic(v, depth + 1)}</dd>" for k, v in value.items())
        return f"<dl>{body}</dl>"
    if isinstance(value, list) and depth < 3:
        return (
            "<ul class=plain>" + "".join(f"<li>{_generic(v, depth + 1)}</li>" for v in value[:200]) + "</ul>"
        )
    if isinstance(value, float):
        return _number(value)
    return esc(value)


def _usage(report: dict[str, Any]) -> str:
    usage: dict[str, dict[str, Any]] = report.get("usage") or {}
    if not usage:
        return ""
    keys = sorted({k for totals in usage.values() for k in totals})
    head = "".join(f"<th class=num>{esc(k)}</th>" for k in keys)
    rows = []
    for actor, totals in usage.items():
        cells = "".join(f"<td class=num>{_number(totals.get(k))}</td>" for k in keys)
        rows.append(f"<tr><td>{esc(actor)}</td>{cells}</tr>")

    def total(key: str) -> float:
        values = (t.get(key, 0) for t in usage.values())
        return sum(v for v in values if isinstance(v, int | float) and not isinstance(v, bool))

    total_cells = "".join(f"<td class=num><b>{_number(total(k))}</b></td>" for k in keys)
    rows.append(f"<tr><td><b>total</b></td>{total_cells}</tr>")
    return f"<h2>LLM usage</h2><table><tr><th>agent</th>{head}</tr>{''.join(rows)}</table>"


def _agent_table(report: dict[str, Any], agents: list[dict[str, Any]]) -> str:
    critical = set((report.get("critical_path") or {}).get("agents") or [])
    rows = []
    for a in agents:
        name = esc(a.get("name", "?"))
        if a.get("name") in critical:
            name = f'<span class="crit" title="on the critical path">{name} ★</span>'
        needs = ", ".join(esc(str(n).removeprefix("agent:")) for n in a.get("needs") or []) or "-"
        attempts = a.get("attempts") or 0
        rows.append(
            f"<tr><td>{name}</td><td>{_badge(str(a.get('status', '?')))}</td>"
            f"<td>{esc(a.get('runner') or '-')}</td>"
            f"<td class=num>{_secs(a.get('start_s'))}</td>"
            f"<td class=num>{_secs(a.get('end_s'))}</td>"
            f"<td class=num>{_secs(a.get('duration_s'))}</td>"
            f"<td class=num>{attempts if attempts else '-'}</td>"
            f"<td>{needs}</td><td>{esc(a.get('released_by') or '-')}</td>"
            f"<td class=err>{esc(a.get('error') or '')}</td></tr>"
        )
    head = (
        "<tr><th>agent</th><th>status</th><th>runner</th><th class=num>start</th>"
        "<th class=num>end</th>"
        "<th class=num>duration</th><th class=num>attempts</th><th>needs</th><th>released by</th>"
        "<th>error</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"

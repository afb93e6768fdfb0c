"""The timeline picture at the centre of the HTML report, as one inline SVG.

One row per agent: a thin grey segment while it waited, then a bar from start to
end coloured by status (blocked and skipped agents, which never ran, get a small
box where they were given up on). Signals are diamonds on the bar of the agent
that fired them (hollow for a file event, on the row of the agent whose write fired
it), or on the top "files" lane when nobody in the run is known to have; curved
arrows run from each signal (or from the end of a needed agent) to the start of
every agent it released. The critical path's bars, names and arrows are purple.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from counterpoint.engine.report.markup import esc, finite_number, shorten, tick_step

WIDTH = 1260
GUTTER = 185  # agent names
RIGHT_PAD = 170  # labels past the last bar
TOP = 26  # axis labels
CRIT = "#6d28d9"
ARROW = "#98a2b3"
INK = "#1d2330"
MUTED = "#667085"


class _Layout:
    """Maps seconds and agents to SVG coordinates."""

    def __init__(
        self, report: dict[str, Any], agents: list[dict[str, Any]], files_lane: bool, extra_rows: int = 0
    ) -> None:
        n = max(1, len(agents) + extra_rows)
        self.row_h = 34.0 if n <= 30 else 22.0 if n <= 80 else max(5.0, min(14.0, 1800 / n))
        self.bar_h = max(3.0, round(self.row_h * 0.48))
        self.labels = self.row_h >= 30
        self.lane_h = 30.0 if files_lane else 0.0
        ends = [finite_number(a.get("end_s")) or 0.0 for a in agents]
        ends += [finite_number(s.get("at_s")) or 0.0 for s in report.get("signals") or []]
        self.t_max = max([finite_number(report.get("wall_s")) or 0.0, *ends, 0.001])
        self.x0 = GUTTER + 12.0
        self.x1 = WIDTH - RIGHT_PAD
        self.rows_top = TOP + 8 + self.lane_h
        self.height = self.rows_top + n * self.row_h + 30
        self.index = {str(a.get("name")): i for i, a in enumerate(agents)}

    def x(self, t: float | None) -> float:
        t = max(0.0, t or 0.0)
        return round(self.x0 + (self.x1 - self.x0) * t / self.t_max, 1)

    def y(self, row: int) -> float:
        """Centre of an agent's row."""
        return round(self.rows_top + row * self.row_h + self.row_h / 2, 1)

    @property
    def lane_y(self) -> float:
        return TOP + 8 + self.lane_h / 2


def render_timeline(report: dict[str, Any], colours: dict[str, str]) -> str:
    """The SVG timeline of ``report`` (a `build_report` dict)."""
    agents: list[dict[str, Any]] = list(report.get("agents") or [])
    signals: list[dict[str, Any]] = list(report.get("signals") or [])
    names = {str(a.get("name")) for a in agents}
    file_signals = [s for s in signals if _source(s) not in names]
    issues = list((report.get("integration") or {}).get("issues") or [])
    lay = _Layout(report, agents, bool(file_signals), extra_rows=1 if issues else 0)
    chain = [str(n) for n in (report.get("critical_path") or {}).get("agents") or []]
    critical = set(chain)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {lay.height:.0f}" '
        f'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" role="img" '
        f'aria-label="timeline of the run">',
        "<defs>",
        *(
            f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerUnits="userSpaceOnUse" '
            f'markerWidth="{size:.1f}" markerHeight="{size:.1f}" orient="auto-start-reverse">'
            f'<path d="M0,1 L10,5 L0,9 z" fill="{colour}"/></marker>'
            for mid, colour, size in (
                ("arr", ARROW, min(9.0, lay.row_h * 0.6)),
                ("arr-crit", CRIT, min(12.0, lay.row_h * 0.8)),
            )
        ),
        "</defs>",
    ]
    out += _grid(lay, len(agents) + (1 if issues else 0))
    if file_signals:
        out.append(
            f'<text x="{GUTTER}" y="{lay.lane_y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{MUTED}" font-style="italic">files</text>'
        )
        out.append(
            f'<line x1="{lay.x0}" x2="{lay.x1}" y1="{lay.lane_y}" y2="{lay.lane_y}" '
            f'stroke="#d0d5dd" stroke-dasharray="2 3"/>'
        )
    starts = [t for t in (finite_number(a.get("start_s")) for a in agents) if t is not None]
    sched_start = min(starts, default=None)
    for i, agent in enumerate(agents):
        out += _agent_row(lay, i, agent, colours, str(agent.get("name")) in critical, sched_start)
    markers = _signal_positions(lay, signals)
    out += _arrows(lay, agents, signals, markers, chain)
    out += _signal_markers(lay, signals, markers)
    if issues:
        out += _issue_lane(lay, len(agents), issues)
    out.append("</svg>")
    return "\n".join(out)


def _issue_lane(lay: _Layout, row: int, issues: list[dict[str, Any]]) -> list[str]:
    """One row for integration issues: found (red dot) to fixed (green tick), open ones to the end."""
    y = lay.y(row)
    out = [
        f'<text x="{GUTTER}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#b42318" '
        f'font-style="italic">issues</text>'
    ]
    for n, issue in enumerate(issues[:50]):
        found = finite_number(issue.get("found_at_s")) or 0.0
        fixed = finite_number(issue.get("fixed_at_s"))
        dy = y + (n % 3 - 1) * 4
        x_found = lay.x(found)
        x_end = lay.x(fixed if fixed is not None else lay.t_max)
        where = f"{issue.get('path') or ''}:{issue.get('line') or ''}".strip(":")
        tip = esc(
            f"{issue.get('check')}: {where} {issue.get('message')}\nfound at {found:.2f} s"
            + (" (early)" if issue.get("early") else "")
            + (f", fixed at {fixed:.2f} s" if fixed is not None else ", open")
        )
        out.append(
            f'<line x1="{x_found}" x2="{x_end}" y1="{dy}" y2="{dy}" stroke="#f04438" stroke-width="2" '
            f'stroke-dasharray="{"0" if fixed is not None else "3 2"}"><title>{tip}</title></line>'
        )
        out.append(f'<circle cx="{x_found}" cy="{dy}" r="5" fill="#f04438"><title>{tip}</title></circle>')
        if fixed is not None:
            out.append(
                f'<path d="M{x_end - 5},{dy} l4,4 l7,-8" fill="none" stroke="#12b76a" stroke-width="2.5">'
                f"<title>{tip}</title></path>"
            )
        if n == 0 and lay.labels:
            label = "found early" if issue.get("early") else "found"
            out.append(
                f'<text x="{x_found + 8}" y="{dy - 7:.1f}" font-size="10" fill="#b42318">{esc(label)}: '
                f"{esc(shorten(where, 40))}</text>"
            )
    return out


def _grid(lay: _Layout, n: int) -> list[str]:
    out: list[str] = []
    for i in range(n):
        if i % 2:
            top = lay.rows_top + i * lay.row_h
            out.append(f'<rect x="0" y="{top:.1f}" width="{WIDTH}" height="{lay.row_h}" fill="#f8f9fb"/>')
    step = tick_step(lay.t_max)
    bottom = lay.rows_top + n * lay.row_h
    ticks = int(lay.t_max / step + 1e-9)
    for k in range(ticks + 1):
        t = k * step
        x = lay.x(t)
        label = f"{t:g} s" if step >= 1 else f"{t:.{max(0, -math.floor(math.log10(step)))}f} s"
        out.append(f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom:.1f}" stroke="#eaecf0"/>')
        for y in (TOP - 8, bottom + 18):
            out.append(
                f'<text x="{x}" y="{y:.1f}" text-anchor="middle" font-size="11" fill="{MUTED}">{label}</text>'
            )
    end = lay.x(lay.t_max)
    out.append(
        f'<line x1="{end}" x2="{end}" y1="{TOP}" y2="{bottom:.1f}" stroke="#98a2b3" stroke-dasharray="3 3"/>'
    )
    return out


def _agent_row(
    lay: _Layout,
    i: int,
    agent: dict[str, Any],
    colours: dict[str, str],
    critical: bool,
    sched: float | None,
) -> list[str]:
    name = str(agent.get("name", "?"))
    status = str(agent.get("status", "?"))
    y = lay.y(i)
    colour = colours.get(status, "#98a2b3")
    font = 13 if lay.row_h >= 30 else 11 if lay.row_h >= 14 else max(5.0, lay.row_h - 1)
    weight = ' font-weight="700"' if critical else ""
    fill = CRIT if critical else INK
    out = [
        f'<text x="{GUTTER}" y="{y + font * 0.35:.1f}" text-anchor="end" font-size="{font}" '
        f'fill="{fill}"{weight}>'
        f"<title>{esc(name)}</title>{esc(shorten(name, 24))}</text>"
    ]
    start, end = finite_number(agent.get("start_s")), finite_number(agent.get("end_s"))
    if start is None:
        return out
    wait = finite_number(agent.get("wait_start_s"))
    if wait is None and sched is not None and (agent.get("needs") or start > sched + 0.05):
        wait = sched
    if wait is not None and start - wait > 0.001:
        x1, x2 = lay.x(wait), lay.x(start)
        dense = lay.row_h < 14
        out.append(
            f'<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="#98a2b3" '
            f'stroke-width="{1 if dense else 2}" '
            f'opacity="{0.4 if dense else 1}" stroke-linecap="round">'
            f"<title>{esc(name)} waited {start - wait:.2f} s</title></line>"
        )
    ran = status not in ("blocked", "skipped", "pending", "waiting") or (end or start) - start > 0
    tip = _agent_tip(agent)
    h = lay.bar_h
    if not ran:  # never started: a small hatched box where it was given up on
        x = lay.x(end if end is not None else start)
        out.append(
            f'<rect x="{x - 3:.1f}" y="{y - h / 2:.1f}" width="6" height="{h}" fill="{colour}" '
            f'stroke="#8d8360" stroke-width="1"><title>{tip}</title></rect>'
        )
        if lay.labels:
            out.append(_side_label(x + 8, y, status, agent.get("error"), "#8d8360"))
        return out
    x1 = lay.x(start)
    x2 = lay.x(end if end is not None else lay.t_max)
    width = max(2.0, x2 - x1)
    stroke = f' stroke="{CRIT}" stroke-width="2.5"' if critical else ""
    out.append(
        f'<rect x="{x1}" y="{y - h / 2:.1f}" width="{width:.1f}" height="{h}" rx="3" '
        f'fill="{colour}"{stroke}>'
        f"<title>{tip}</title></rect>"
    )
    duration = finite_number(agent.get("duration_s"))
    if lay.labels and duration is None:
        out.append(_side_label(x1 + width + 6, y, status, agent.get("error"), colour))
    elif lay.labels and duration is not None:
        text = f"{duration:.2f} s"
        if width > 56:
            ink = INK if status in ("cancelled", "blocked", "skipped") else "#fff"
            out.append(
                f'<text x="{x1 + 6:.1f}" y="{y + 4:.1f}" font-size="11" fill="{ink}" '
                'font-weight="600" '
                f'pointer-events="none">{esc(text)}</text>'
            )
            text = ""
        if status != "succeeded" or text:
            label_colour = colour if status != "succeeded" else MUTED
            extra = status if status != "succeeded" else ""
            out.append(
                _side_label(
                    x1 + width + 6,
                    y,
                    " ".join(p for p in (text, extra) if p),
                    agent.get("error"),
                    label_colour,
                )
            )
    return out


def _side_label(x: float, y: float, text: str, error: Any, colour: str) -> str:
    full = text
    if error:
        said = str(error).lower().replace(" ", "_")
        # "timed_out: timed out after 10 s" says it twice; keep the duration, drop the status.
        if any(said.startswith(word) for word in text.split() if not word[0].isdigit()):
            full = " ".join(w for w in text.split() if w[0].isdigit())
        full = f"{full}: {error}" if full else str(error)
    return (
        f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" fill="{colour}">'
        f"<title>{esc(full)}</title>"
        f"{esc(shorten(full, 48))}</text>"
    )


def _agent_tip(agent: dict[str, Any]) -> str:
    lines = [f"{agent.get('name')} — {agent.get('status')}"]
    start, end = finite_number(agent.get("start_s")), finite_number(agent.get("end_s"))
    if start is not None:
        lines.append(f"start {start:.2f} s" + (f", end {end:.2f} s" if end is not None else ""))
    if agent.get("released_by"):
        lines.append(f"released by {agent['released_by']}")
    if (agent.get("attempts") or 0) > 1:
        lines.append(f"attempts: {agent['attempts']}")
    if agent.get("error"):
        lines.append(f"error: {agent['error']}")
    return esc("\n".join(lines))


def _source(signal: dict[str, Any]) -> str:
    """The agent a signal comes from: the one that fired it, or the one a file signal is
    attributed to (its writer, or the one agent that declares it)."""
    return str(signal.get("actor") or signal.get("by"))


def _signal_positions(lay: _Layout, signals: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    pos: dict[str, tuple[float, float]] = {}
    for signal in signals:
        row = lay.index.get(_source(signal))
        y = lay.y(row) if row is not None else lay.lane_y
        pos[str(signal.get("name"))] = (lay.x(finite_number(signal.get("at_s"))), y)
    return pos


def _arrows(
    lay: _Layout,
    agents: list[dict[str, Any]],
    signals: list[dict[str, Any]],
    markers: dict[str, tuple[float, float]],
    chain: list[str],
) -> list[str]:
    by_name = {str(a.get("name")): a for a in agents}
    emitter = {str(s.get("name")): _source(s) for s in signals}
    crit_edges = set(itertools.pairwise(chain))
    out: list[str] = []
    thin = len(agents) > 100
    for agent in agents:
        need = agent.get("released_by")
        start = finite_number(agent.get("start_s"))
        if not need or start is None:
            continue
        name = str(agent.get("name"))
        need = str(need)
        if need in markers:
            sx, sy = markers[need]
            source = emitter.get(need, "")
        elif need in by_name and finite_number(by_name[need].get("end_s")) is not None:
            sx, sy = lay.x(finite_number(by_name[need].get("end_s"))), lay.y(lay.index[need])
            source = need
        else:
            continue
        tx, ty = lay.x(start) - 1, lay.y(lay.index[name])
        crit = (source, name) in crit_edges
        bend = max(14.0, abs(tx - sx) * 0.45)
        colour, marker, width = (CRIT, "arr-crit", 2.0) if crit else (ARROW, "arr", 1.3)
        opacity = "1" if crit else ("0.35" if thin else "0.9")
        out.append(
            f'<path d="M{sx:.1f},{sy:.1f} C{sx + bend:.1f},{sy:.1f} '
            f'{tx - bend:.1f},{ty:.1f} {tx:.1f},{ty:.1f}" '
            f'fill="none" stroke="{colour}" stroke-width="{width}" opacity="{opacity}" '
            f'marker-end="url(#{marker})"><title>{esc(need)} released {esc(name)}</title></path>'
        )
    return out


def _signal_markers(
    lay: _Layout, signals: list[dict[str, Any]], markers: dict[str, tuple[float, float]]
) -> list[str]:
    out: list[str] = []
    taken: dict[float, list[tuple[float, float]]] = {}
    r = 6.0 if lay.row_h >= 20 else max(2.5, lay.row_h / 2.5)
    for signal in signals:
        name = str(signal.get("name"))
        x, y = markers[name]
        file_fired = signal.get("actor") is None or y == lay.lane_y
        tip = [
            f"signal {name} at {(finite_number(signal.get('at_s')) or 0):.2f} s",
            f"fired by {signal['actor']}"
            if signal.get("actor")
            else f"fired by a file event ({signal.get('attribution')}: {signal['by']})"
            if signal.get("by")
            else "fired by a file event",
        ]
        if signal.get("metadata"):
            tip.append(shorten(json.dumps(signal["metadata"], default=str), 300))
        if signal.get("released"):
            tip.append("released " + ", ".join(str(n) for n in signal["released"]))
        fill = "#fff" if file_fired else INK
        out.append(
            f'<path d="M{x},{y - r} L{x + r},{y} L{x},{y + r} L{x - r},{y} z" '
            f'fill="{fill}" stroke="{INK}" '
            f'stroke-width="1.6"><title>{esc(chr(10).join(tip))}</title></path>'
        )
        if not lay.labels:
            continue
        width = 6.2 * len(shorten(name, 28)) + 4
        for dy in (-lay.bar_h / 2 - 5, lay.bar_h / 2 + 13):
            spans = taken.setdefault(y + dy, [])
            if all(x + width < a or x - 2 > b for a, b in spans):
                spans.append((x - 2, x + width))
                out.append(
                    f'<text x="{x + 2:.1f}" y="{y + dy:.1f}" font-size="10.5" fill="{INK}" '
                    'font-family="ui-monospace,SFMono-Regular,Menlo,monospace">'
                    f"{esc(shorten(name, 28))}</text>"
                )
                break
    return out

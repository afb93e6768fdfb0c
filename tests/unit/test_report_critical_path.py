"""The critical path through file signals: a signal fired by a file glob is attributed to the
agent whose write fired it (or the one agent that declares it emits it), in the live run's
event and, for old logs without that attribution, from the events alone; the path and the
timeline follow agent -> signal -> agent chains through it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine
from counterpoint.engine.report import build_report, render_markdown
from counterpoint.engine.report.timeline import CRIT
from counterpoint.engine.run import RunOptions
from counterpoint_protocol.events import Event, EventType

from tests.unit.test_report_html import SVG, make_spec, svg_of


def think(seconds: float) -> dict[str, Any]:
    return {"action": "think", "seconds": seconds}


async def run_spec(
    tmp_path: Path,
    agents: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]],
    signals: dict[str, list[str]],
) -> tuple[dict[str, Any], list[Event], str]:
    """A real run with the file watcher; returns its report, its events and its HTML page."""
    (tmp_path / "app").mkdir()
    spec = make_spec(tmp_path, agents).model_copy(update={"signals": signals})
    engine = await Engine.open(tmp_path)
    try:
        run = engine.create_run(spec, RunOptions(watch=True, trust=True))
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        await engine.aclose()
    page = await asyncio.to_thread(Path(report["files"]["html"]).read_text)
    return report, events, page


def agent(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in report["agents"] if a["name"] == name)


def signal_event(events: list[Event], name: str) -> Event:
    return next(e for e in events if e.type == EventType.SIGNAL and e.action == name)


def check_path_and_arrow(report: dict[str, Any], page: str, writer: str, signal: str, dependent: str) -> None:
    """The critical path is writer -> dependent over the writer's start to the dependent's end,
    and the timeline's arrow for the signal starts on the writer's row, in the path's colour."""
    first, last = agent(report, writer), agent(report, dependent)
    assert last["released_by"] == signal
    crit = report["critical_path"]
    assert crit["agents"] == [writer, dependent]
    assert crit["length_s"] == round(last["end_s"] - first["start_s"], 3)
    assert crit["length_s"] > last["duration_s"]
    assert f"Critical path: {writer} -> {dependent} " in render_markdown(report)
    svg = svg_of(page)
    bar = next(
        r for r in svg.iter(f"{SVG}rect") if (r.findtext(f"{SVG}title") or "").startswith(f"{writer} — ")
    )
    row_y = float(bar.get("y") or 0) + float(bar.get("height") or 0) / 2
    arrow = next(
        p for p in svg.iter(f"{SVG}path") if p.findtext(f"{SVG}title") == f"{signal} released {dependent}"
    )
    match = re.match(r"M([\d.]+),([\d.]+) ", arrow.get("d") or "")
    assert match is not None
    assert abs(float(match.group(2)) - row_y) < 0.2  # from the writer's bar, not the files lane
    assert arrow.get("stroke") == CRIT and arrow.get("marker-end") == "url(#arr-crit)"


async def test_a_file_written_by_an_agent_puts_it_on_the_critical_path(tmp_path: Path) -> None:
    report, events, page = await run_spec(
        tmp_path,
        {
            "a": (
                [
                    think(0.2),
                    {"action": "write_file", "path": "app/schema.py", "content": "x = 1\n"},
                    think(0.1),
                ],
                {},
            ),
            "c": ([think(0.6)], {"needs": ["schema_ready"]}),
            "b": ([think(0.05)], {}),
        },
        {"schema_ready": ["app/schema.py"]},
    )
    assert report["status"] == "succeeded"
    # Attributed at the source: the signal event says which agent's write fired it.
    fired = signal_event(events, "schema_ready")
    assert fired.actor is None
    assert fired.metadata["by"] == "a" and fired.metadata["attribution"] == "write"
    assert fired.metadata["path"] == "app/schema.py"
    entry = next(s for s in report["signals"] if s["name"] == "schema_ready")
    assert entry["by"] == "a" and entry["attribution"] == "write" and entry["released"] == ["c"]
    check_path_and_arrow(report, page, "a", "schema_ready", "c")

    # An old log (no attribution in the signal's metadata): the same path from the events alone.
    old = [
        e.model_copy(
            update={"metadata": {k: v for k, v in e.metadata.items() if k not in ("by", "attribution")}}
        )
        if e.type == EventType.SIGNAL
        else e
        for e in events
    ]
    assert "by" not in signal_event(old, "schema_ready").metadata
    again = build_report(old)
    assert again["critical_path"] == report["critical_path"]
    entry = next(s for s in again["signals"] if s["name"] == "schema_ready")
    assert entry["by"] == "a" and entry["attribution"] == "write"


async def test_a_file_written_by_a_command_goes_to_the_one_agent_that_emits_it(tmp_path: Path) -> None:
    # The agent writes through the shell (no file tool, so no `file_written`): the one agent that
    # declares it emits the signal, and was running, is the source.
    report, events, page = await run_spec(
        tmp_path,
        {
            "a": (
                [think(0.1), {"action": "run", "command": "printf 'x = 1\\n' > app/api.py"}, think(0.1)],
                {"emits": ["api_ready"]},
            ),
            "c": ([think(0.6)], {"needs": ["api_ready"]}),
        },
        {"api_ready": ["app/api.py"]},
    )
    assert report["status"] == "succeeded"
    fired = signal_event(events, "api_ready")
    assert fired.metadata["by"] == "a" and fired.metadata["attribution"] == "emits"
    check_path_and_arrow(report, page, "a", "api_ready", "c")


async def test_a_file_nobody_in_the_run_wrote_stays_unattributed(tmp_path: Path) -> None:
    # Two agents declare the signal and neither wrote the file through the tools: unknown.
    (tmp_path / "app").mkdir()
    spec = make_spec(
        tmp_path,
        {
            "a": ([think(0.1), {"action": "run", "command": "printf 1 > app/x.py"}], {"emits": ["x_ready"]}),
            "b": ([think(0.1)], {"emits": ["x_ready"]}),
            "c": ([think(0.3)], {"needs": ["x_ready"]}),
        },
    ).model_copy(update={"signals": {"x_ready": ["app/x.py"]}})
    engine = await Engine.open(tmp_path)
    try:
        run = engine.create_run(spec, RunOptions(watch=True, trust=True))
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        await engine.aclose()
    fired = signal_event(events, "x_ready")
    assert fired.metadata["attribution"] == "unknown" and "by" not in fired.metadata
    assert report["critical_path"]["agents"] == ["c"]

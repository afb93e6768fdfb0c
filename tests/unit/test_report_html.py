"""Tests for the HTML report: the timeline of a real run, escaping, and the extra sections."""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine
from counterpoint.engine.report.html import STATUS_COLOURS, render_html
from counterpoint.engine.report.timeline import CRIT
from counterpoint.engine.run import Run, RunOptions
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<img src=x onerror="alert(1)">'


def make_spec(folder: Path, agents: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]) -> Spec:
    (folder / "transcripts").mkdir(parents=True, exist_ok=True)
    specs = []
    for i, (name, (steps, settings)) in enumerate(agents.items()):
        file = f"transcripts/agent{i}.jsonl"
        (folder / file).write_text("".join(json.dumps(s) + "\n" for s in steps))
        where = SourceRange.on_line(i)
        specs.append(
            AgentSpec(
                name=name,
                settings=AgentSettings.model_validate({"runner": "replay", "transcript": file, **settings}),
                heading_range=where,
                name_range=where,
                section_end_line=i,
            )
        )
    return Spec(path=str(folder / "t.agents.md"), feature="Course <b>enrollment</b>", agents=specs)


def svg_of(page: str) -> ET.Element:
    """The timeline, parsed as XML (which also proves that it is well formed)."""
    match = re.search(r"<svg.*?</svg>", page, re.S)
    assert match is not None
    return ET.fromstring(match.group(0))


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


async def run_report(tmp_path: Path) -> tuple[dict[str, Any], str]:
    think = {"action": "think", "seconds": 0.05}
    spec = make_spec(
        tmp_path,
        {
            "backend": (
                [think, {"action": "emit", "signal": "schema_ready"}, think],
                {"emits": ["schema_ready"]},
            ),
            "frontend": ([think], {"needs": ["schema_ready"]}),
            "docs": ([think], {"needs": ["frontend"]}),
            HOSTILE: ([{"action": "fail", "message": "broke <script>alert(2)</script>"}], {}),
            "after_hostile": ([think], {"needs": [HOSTILE]}),
        },
    )
    engine = await Engine.open(tmp_path)
    try:
        # The run itself, then the engine's report writer (what `Engine.execute` does after it).
        run = Run(spec, engine.log, tmp_path, RunOptions(watch=False))
        await run.execute()
        report = await engine.write_report(run.run_id)
    finally:
        await engine.aclose()
    page = await asyncio.to_thread(Path(report["files"]["html"]).read_text)
    return report, page


async def test_timeline_of_a_real_run(tmp_path: Path) -> None:
    report, page = await run_report(tmp_path)
    assert page == render_html({k: v for k, v in report.items() if k != "files"})
    svg = svg_of(page)
    bars = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    tips = {(r.find(f"{SVG}title").text or "").split(" — ")[0]: r for r in bars}  # type: ignore[union-attr]
    assert set(tips) == {"backend", "frontend", "docs", HOSTILE, "after_hostile"}
    assert tips["backend"].get("fill") == STATUS_COLOURS["succeeded"]
    assert tips[HOSTILE].get("fill") == STATUS_COLOURS["failed"]
    assert tips["after_hostile"].get("fill") == STATUS_COLOURS["blocked"]
    # The critical path (backend -> frontend -> docs) is outlined; the others are not.
    assert report["critical_path"]["agents"] == ["backend", "frontend", "docs"]
    outlined = {name for name, rect in tips.items() if rect.get("stroke") == CRIT}
    assert outlined == {"backend", "frontend", "docs"}
    # One diamond for the signal, arrows for both releases (signal -> frontend, frontend -> docs).
    paths = list(svg.iter(f"{SVG}path"))
    titles = [p.findtext(f"{SVG}title") or "" for p in paths]
    assert sum(t.startswith("signal schema_ready") for t in titles) == 1
    assert "schema_ready released frontend" in titles
    assert "frontend released docs" in titles
    arrows = [p for p in paths if (p.get("marker-end") or "").startswith("url(#arr")]
    assert len(arrows) == 2 and all(p.get("stroke") == CRIT for p in arrows)
    # Agents table and summary.
    assert page.count("<tr>") >= 6
    assert "backend → frontend → docs" in page


async def test_everything_is_escaped_and_self_contained(tmp_path: Path) -> None:
    _report, page = await run_report(tmp_path)
    collector = TagCollector()
    collector.feed(page)
    tags = {tag for tag, _attrs in collector.tags}
    assert "script" not in tags and "img" not in tags and "link" not in tags
    assert not any(name.startswith("on") for _tag, attrs in collector.tags for name in attrs)
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "broke &lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "Course &lt;b&gt;enrollment&lt;/b&gt;" in page
    # No external assets: the only URL is the SVG namespace.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}


def test_findings_usage_integration_and_file_signals() -> None:
    report: dict[str, Any] = {
        "run_id": "r1",
        "feature": "f",
        "status": "running",
        "wall_s": 4.0,
        "busy_s": 5.0,
        "parallelism": 1.25,
        "critical_path": {"agents": [], "length_s": 0.0},
        "agents": [
            {
                "name": "a",
                "status": "succeeded",
                "start_s": 0.1,
                "end_s": 2.0,
                "duration_s": 1.9,
                "needs": [],
            },
            {
                "name": "b",
                "status": "running",
                "start_s": 1.0,
                "end_s": None,
                "duration_s": None,
                "needs": ["schema_ready"],
                "released_by": "schema_ready",
                "wait_start_s": 0.1,
            },
        ],
        "signals": [
            {
                "name": "schema_ready",
                "at_s": 1.0,
                "actor": None,
                "metadata": {"path": "app/s.py"},
                "released": ["b"],
            }
        ],
        "context": {
            "bytes_loaded": 1000,
            "tokens_loaded": 250,
            "agents": 2,
            "bytes_per_agent_load": 2000,
            "tokens_per_agent_load": 500,
        },
        "findings": [
            {
                "path": "app/x.py",
                "line": 7,
                "message": "unused <import>",
                "at_s": 3.5,
                "check": "ruff",
            }
        ],
        "integration": {"rounds": 2, "open": ["x <y>"]},
        "usage": {"a": {"input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.0123}},
        "events": 42,
    }
    page = render_html(report)
    svg = svg_of(page)
    # Visible text: the element's own text and what follows its <title> child.
    texts = [(t.text or "") + "".join(c.tail or "" for c in t) for t in svg.iter(f"{SVG}text")]
    assert "files" in texts and "schema_ready" in texts and "running" in texts
    assert "<code>app/x.py:7</code> unused &lt;import&gt;" in page
    assert "x &lt;y&gt;" in page and "Integration" in page
    assert "1,200" in page and "0.0123" in page
    assert "1,000 bytes (~250 tokens)" in page and "2,000 bytes (~500 tokens)" in page
    # The waiting segment of b runs from its first wait to its start.
    waits = [line for line in svg.iter(f"{SVG}line") if "waited" in (line.findtext(f"{SVG}title") or "")]
    assert len(waits) == 1


def test_empty_report_renders() -> None:
    page = render_html({"run_id": "r0", "status": "failed", "agents": [], "signals": []})
    assert svg_of(page).tag == f"{SVG}svg"
    assert "Run r0" in page

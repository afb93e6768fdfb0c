"""The report of an isolated run: per agent the files and lines it changed, the merge order, the
conflicts predicted (how long before the actual conflict, or that it never happened) and the
actual ones — from the run's events alone, in the report's one pass."""

from __future__ import annotations

from typing import Any

from counterpoint.engine.report import build_report, render_html, render_markdown
from counterpoint_protocol.events import Event

RUN = "20261202-101500-abc123"


def event(
    n: int, at: float, kind: str, actor: str | None = None, action: str | None = None, **meta: Any
) -> Event:
    whole, frac = divmod(round(at * 1000), 1000)
    stamp = f"2026-12-02T10:15:{whole:02d}.{frac:03d}Z"
    return Event(id=n, run_id=RUN, type=kind, actor=actor, action=action, metadata=meta, timestamp=stamp)


def conflict(key: str, agents: list[str], path: str) -> dict[str, Any]:
    sides = [{"agent": a, "lines": [{"start": 2, "end": 3}]} for a in agents]
    return {"key": key, "agents": agents, "files": [{"path": path, "sides": sides}], "message": "clash"}


def isolated_run_events() -> list[Event]:
    rows: list[tuple[float, str, str | None, str | None, dict[str, Any]]] = [
        (
            0.0,
            "run_started",
            None,
            "Demo",
            {"agents": ["backend", "frontend", "docs"], "isolation": {"base": "b0"}},
        ),
        (
            0.1,
            "working_copy_created",
            "integration",
            "worktree",
            {
                "branch": f"counterpoint/{RUN}/integration",
                "path": "/c/i",
                "start_commit": "b0",
                "method": "worktree",
            },
        ),
        (
            0.2,
            "working_copy_created",
            "backend",
            "overlay",
            {
                "branch": f"counterpoint/{RUN}/agents/backend",
                "path": "/c/b",
                "start_commit": "b0",
                "method": "overlay",
                "seconds": 0.05,
            },
        ),
        (
            0.2,
            "working_copy_created",
            "frontend",
            "overlay",
            {
                "branch": f"counterpoint/{RUN}/agents/frontend",
                "path": "/c/f",
                "start_commit": "b0",
                "method": "overlay",
                "seconds": 0.04,
            },
        ),
        (0.3, "agent_started", "backend", None, {"attempt": 1, "runner": "replay"}),
        (0.3, "agent_started", "frontend", None, {"attempt": 1, "runner": "replay"}),
        (
            0.4,
            "working_copy_created",
            "docs",
            "worktree",
            {
                "branch": f"counterpoint/{RUN}/agents/docs",
                "path": "/c/d",
                "start_commit": "b0",
                "method": "worktree",
            },
        ),
        (
            1.0,
            "conflict_predicted",
            "frontend",
            None,
            conflict("frontend|backend", ["frontend", "backend"], "app/models.py"),
        ),
        (1.5, "conflict_predicted", "docs", None, conflict("docs|backend", ["docs", "backend"], "README.md")),
        (2.0, "conflict_cleared", "docs", None, {"key": "docs|backend"}),
        (2.5, "snapshot", "docs", "done", {"commit": "d1", "files": ["README.md", "docs/api.md"]}),
        (2.6, "agent_finished", "docs", "failed", {"error": "boom"}),
        (3.0, "snapshot", "backend", "done", {"commit": "b1", "files": ["app/models.py"]}),
        (
            3.1,
            "agent_merged",
            "backend",
            "clean",
            {"commit": "m1", "branch": "x", "files": 2, "added": 10, "removed": 1, "order": 1},
        ),
        (3.2, "agent_finished", "backend", "succeeded", {}),
        (
            4.5,
            "merge_conflict",
            "frontend",
            "app/models.py",
            conflict("merge:frontend", ["frontend", "backend"], "app/models.py"),
        ),
        (
            4.6,
            "agent_merged",
            "frontend",
            "conflicted",
            {
                "commit": "m2",
                "branch": "y",
                "files": 3,
                "added": 7,
                "removed": 4,
                "order": 2,
                "conflicted": True,
            },
        ),
        (4.7, "agent_finished", "frontend", "succeeded", {}),
        (
            5.0,
            "merge_conflict",
            "quality",
            "tests/t.py",
            conflict("merge:quality", ["quality", "integration"], "tests/t.py"),
        ),
        (6.0, "run_finished", None, "failed", {"wall_s": 6.0}),
    ]
    return [event(n, *row[:4], **row[4]) for n, row in enumerate(rows, start=1)]


def test_the_report_has_each_isolated_agents_changes_and_the_merge_order() -> None:
    report = build_report(isolated_run_events())
    section = report["isolation"]
    agents = {a["name"]: a for a in section["agents"]}
    assert set(agents) == {"backend", "frontend", "docs"}  # not the integration copy
    assert (agents["backend"]["files"], agents["backend"]["added"], agents["backend"]["removed"]) == (
        2,
        10,
        1,
    )
    assert agents["frontend"]["merged_order"] == 2 and agents["frontend"]["method"] == "overlay"
    assert agents["docs"]["files"] == 2 and agents["docs"]["merged_order"] is None  # from its snapshots
    assert section["merge_order"] == ["backend", "frontend"]
    # The isolation events do not disturb the rest of the report.
    assert {a["name"]: a["status"] for a in report["agents"]} == {
        "backend": "succeeded",
        "frontend": "succeeded",
        "docs": "failed",
    }


def test_predicted_conflicts_say_how_early_or_that_they_never_happened() -> None:
    section = build_report(isolated_run_events())["isolation"]
    predicted = {p["key"]: p for p in section["conflicts_predicted"]}
    assert predicted["frontend|backend"]["happened_at_s"] == 4.5
    assert predicted["frontend|backend"]["lead_s"] == 3.5
    assert (
        predicted["docs|backend"]["happened_at_s"] is None
        and predicted["docs|backend"]["cleared_at_s"] == 2.0
    )
    actual = {c["agent"]: c for c in section["conflicts"]}
    assert actual["frontend"]["lead_s"] == 3.5
    assert actual["quality"]["predicted_at_s"] is None
    assert (
        section["predicted"],
        section["predicted_happened"],
        section["actual"],
        section["actual_predicted"],
    ) == (2, 1, 2, 1)


def test_markdown_and_html_show_the_section() -> None:
    report = build_report(isolated_run_events())
    markdown = render_markdown(report)
    assert "| isolated agent | files | lines + | lines - | merged | working copy |" in markdown
    assert "| backend | 2 | 10 | 1 | #1 | overlay (0.05s) |" in markdown
    assert "Merge order: backend -> frontend." in markdown
    assert (
        "frontend × backend on app/models.py: predicted at 1.00s, merge conflict at 4.50s (3.50 s earlier)"
        in markdown
    )
    assert "docs × backend on README.md: predicted at 1.50s, cleared at 2.00s: never happened" in markdown
    assert "merging quality (quality × integration) on tests/t.py at 5.00s: not predicted" in markdown
    html = render_html(report)
    assert "<h2>Isolated agents</h2>" in html and "3.50 s earlier" in html


def test_a_shared_run_has_no_isolation_section() -> None:
    events = [
        event(1, 0.0, "run_started", None, "Demo", agents=["a"]),
        event(2, 0.1, "agent_started", "a", None, attempt=1, runner="replay"),
        event(3, 0.5, "agent_finished", "a", "succeeded"),
        event(4, 0.6, "run_finished", None, "succeeded", wall_s=0.6),
    ]
    report = build_report(events)
    assert report["isolation"] is None
    assert "isolated agent" not in render_markdown(report) and "Isolated agents" not in render_html(report)

"""The report of a run that was cancelled or killed and resumed describes the whole run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from counterpoint.engine.report import build_report
from counterpoint_protocol.events import Event


def ev(
    n: int, second: float, type: str, actor: str | None = None, action: str | None = None, **meta: Any
) -> Event:
    stamp = datetime(2026, 1, 1, 10, tzinfo=UTC) + timedelta(seconds=second)
    return Event(
        id=n,
        run_id="r1",
        type=type,
        actor=actor,
        action=action,
        metadata=meta,
        timestamp=stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    )


def segments(last_finishes: bool) -> list[Event]:
    events = [
        ev(1, 0, "run_started", None, "F", agents=["a", "b"], spec="s"),
        ev(2, 0, "agent_started", "a", "running"),
        ev(3, 0, "agent_started", "b", "running"),
        ev(4, 2, "agent_finished", "a", "succeeded"),
        ev(5, 3, "run_finished", None, "cancelled", wall_s=3.0),  # b was cancelled at 3 s
        # An hour later (not counted): resumed, b starts over; then killed; resumed again.
        ev(6, 3603, "run_resumed", None, "resume", agents=["b"]),
        ev(7, 3603, "agent_started", "b", "running"),
        ev(8, 3604, "agent_output", "b", None, line="x"),  # killed here: no run_finished
        ev(9, 3700, "run_resumed", None, "resume", agents=["b"]),
        ev(10, 3700, "agent_started", "b", "running"),
    ]
    if last_finishes:
        events += [
            ev(11, 3702, "agent_finished", "b", "succeeded"),
            ev(12, 3702, "run_finished", None, "succeeded", wall_s=2.0),
        ]
    return events


def test_wall_is_the_sum_of_segments_and_status_the_last() -> None:
    report = build_report(segments(last_finishes=True))
    assert report["status"] == "succeeded"
    assert report["wall_s"] == 6.0  # 3 + 1 (killed segment, to its last event) + 2
    agents = {a["name"]: a for a in report["agents"]}
    assert agents["a"]["status"] == agents["b"]["status"] == "succeeded"
    assert agents["b"]["start_s"] == 4.0 and agents["b"]["end_s"] == 6.0  # pauses left out
    assert agents["b"]["attempts"] >= 1
    assert report["parallelism"] <= 2


def test_a_killed_resume_leaves_the_run_interrupted() -> None:
    report = build_report(segments(last_finishes=False))
    assert report["status"] == "interrupted"  # not the first segment's "cancelled"
    assert report["finished_at"] is None
    assert report["wall_s"] == 4.0

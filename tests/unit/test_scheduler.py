"""Tests for the event-driven scheduler in `Run`, through real runs of replay transcripts.

Every assertion is on the order of events in the SQLite log, never on timing:
an agent whose needs are met must start in the very next scheduling step, so
its `agent_started` follows the event that released it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.log import EventLog
from counterpoint.engine.run import GateAnswer, Run, RunObserver, RunOptions, RunView
from counterpoint_protocol.events import AgentStatus, Event
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec


def think(seconds: float) -> dict[str, Any]:
    return {"action": "think", "seconds": seconds}


def emit(signal: str, **metadata: Any) -> dict[str, Any]:
    return {"action": "emit", "signal": signal, "metadata": metadata}


def make_spec(
    folder: Path,
    agents: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]],
    **front: Any,
) -> Spec:
    """A spec whose agents replay the given steps: name -> (steps, settings)."""
    (folder / "transcripts").mkdir(parents=True, exist_ok=True)
    specs = []
    for line, (name, (steps, settings)) in enumerate(agents.items()):
        transcript = folder / "transcripts" / f"{name}.jsonl"
        transcript.write_text("".join(json.dumps(step) + "\n" for step in steps))
        where = SourceRange.on_line(line * 3, 0, len(name) + 3)
        specs.append(
            AgentSpec(
                name=name,
                settings=AgentSettings.model_validate(
                    {"runner": "replay", "transcript": f"transcripts/{name}.jsonl", **settings}
                ),
                task=f"task of {name}",
                heading_range=where,
                name_range=where,
                section_end_line=line * 3 + 2,
            )
        )
    return Spec(path=str(folder / "test.agents.md"), agents=specs, **front)


@pytest.fixture
async def event_log(tmp_path: Path) -> AsyncIterator[EventLog]:
    log = await EventLog.open(tmp_path / ".counterpoint" / "events.db")
    yield log
    await log.close()


async def run_spec(
    event_log: EventLog, spec: Spec, root: Path, **options: Any
) -> tuple[Run, str, list[Event]]:
    run = Run(spec, event_log, root, RunOptions(watch=False, **options))
    status = await run.execute()
    return run, status, await event_log.query(run.run_id)


def index(events: list[Event], type: str, actor: str | None = None, action: str | None = None) -> int:
    """Position of the first event matching type (and actor/action if given)."""
    for i, event in enumerate(events):
        if (
            event.type == type
            and (actor is None or event.actor == actor)
            and (action is None or event.action == action)
        ):
            return i
    raise AssertionError(f"no {type} event for actor={actor} action={action}")


def finished_status(events: list[Event]) -> dict[str, str]:
    return {e.actor or "": e.action or "" for e in events if e.type == "agent_finished"}


async def test_agent_starts_right_after_its_signal(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(
        tmp_path,
        {
            "backend": (
                [think(0.05), emit("schema_ready", file="app/schema.py"), think(0.2)],
                {"emits": ["schema_ready"]},
            ),
            "frontend": ([think(0.01)], {"needs": ["schema_ready"]}),
            "tests": ([think(0.01)], {"needs": ["schema_ready"]}),
        },
    )
    run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "succeeded"
    assert [e.id for e in events] == sorted(e.id for e in events)
    fired = index(events, "signal", action="schema_ready")
    assert events[fired].actor == "backend"
    assert events[fired].metadata == {"file": "app/schema.py"}
    # Both dependants were waiting before, and start in the steps right after the signal.
    assert index(events, "agent_waiting", "frontend") < fired
    assert {events[fired + 1].actor, events[fired + 2].actor} == {"frontend", "tests"}
    assert {events[fired + 1].type, events[fired + 2].type} == {"agent_started"}
    # ... while the emitter is still running.
    assert fired + 2 < index(events, "agent_finished", "backend")
    assert run.agents["frontend"].released_by == "schema_ready"


async def test_agent_name_need_waits_for_success(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(
        tmp_path,
        {"backend": ([think(0.05)], {}), "docs": ([think(0.01)], {"needs": ["backend"]})},
    )
    _run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "succeeded"
    done = index(events, "agent_finished", "backend")
    assert events[done].action == "succeeded"
    assert events[done + 1].type == "agent_started" and events[done + 1].actor == "docs"


async def test_max_parallel_is_never_exceeded(tmp_path: Path, event_log: EventLog) -> None:
    agents: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
        f"a{i}": ([think(0.02 * (i % 3 + 1))], {}) for i in range(8)
    }
    spec = make_spec(tmp_path, agents)
    _run, status, events = await run_spec(event_log, spec, tmp_path, max_parallel=3)
    assert status == "succeeded"
    running, peak = 0, 0
    for i, event in enumerate(events):
        if event.type == "agent_started":
            running += 1
            peak = max(peak, running)
        elif event.type == "agent_finished":
            running -= 1
            # A queued agent takes the freed slot at once.
            if any(e.type == "agent_queued" for e in events[:i]) and i + 1 < len(events):
                later = [e for e in events[i + 1 :] if e.type == "agent_started"]
                if later:
                    assert events[i + 1].type == "agent_started"
    assert peak == 3
    assert sum(e.type == "agent_queued" for e in events) == 5
    assert sum(e.type == "agent_started" for e in events) == 8


async def test_failure_blocks_dependants_and_the_rest_go_on(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(
        tmp_path,
        {
            "backend": (
                [think(0.02), {"action": "fail", "message": "schema broken"}],
                {"emits": ["schema_ready"]},
            ),
            "frontend": ([think(0.01)], {"needs": ["schema_ready"]}),
            "docs": ([think(0.01)], {"needs": ["backend"]}),
            "review": ([think(0.01)], {"needs": ["docs"]}),
            "quality": ([think(0.1)], {}),
        },
    )
    run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "failed"
    assert finished_status(events) == {
        "backend": "failed",
        "frontend": "blocked",
        "docs": "blocked",
        "review": "blocked",
        "quality": "succeeded",
    }
    assert run.agents["backend"].error == "schema broken"
    assert "backend failed" in (run.agents["docs"].error or "")
    assert not any(e.type == "agent_started" and e.actor in {"frontend", "docs", "review"} for e in events)
    # Blocked at once, not at the end of the run.
    assert index(events, "agent_finished", "review") < index(events, "agent_finished", "quality")


async def test_need_whose_emitter_ended_without_it_is_blocked_at_once(
    tmp_path: Path, event_log: EventLog
) -> None:
    spec = make_spec(
        tmp_path,
        {
            "backend": ([think(0.01)], {"emits": ["schema_ready"]}),
            "frontend": ([think(0.01)], {"needs": ["schema_ready"]}),
            "slow": ([think(0.3)], {}),
        },
    )
    run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "failed"
    assert finished_status(events)["frontend"] == "blocked"
    assert index(events, "agent_finished", "backend") + 1 == index(events, "agent_finished", "frontend")
    assert index(events, "agent_finished", "frontend") < index(events, "agent_finished", "slow")
    assert "backend succeeded without firing it" in (run.agents["frontend"].error or "")


async def test_cancel_mid_run(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(
        tmp_path,
        {
            "backend": ([think(30)], {"emits": ["schema_ready"]}),
            "frontend": ([think(0.01)], {"needs": ["schema_ready"]}),
            "quick": ([think(0.01)], {}),
        },
    )
    run = Run(spec, event_log, tmp_path, RunOptions(watch=False))
    quick_done = asyncio.Event()

    class QuickDone(RunObserver):
        def on_agent_state(self, name: str, state: AgentStatus) -> None:
            if name == "quick" and state.terminal:
                quick_done.set()

    run.observe(QuickDone())
    task = asyncio.create_task(run.execute())
    await asyncio.wait_for(quick_done.wait(), 10)
    assert run.agents["backend"].state.value == "running"
    run.cancel()
    status = await asyncio.wait_for(task, 10)
    events = await event_log.query(run.run_id)
    assert status == "cancelled"
    assert finished_status(events) == {
        "backend": "cancelled",
        "frontend": "cancelled",
        "quick": "succeeded",
    }
    assert events[-1].type == "run_finished" and events[-1].action == "cancelled"
    assert events[-1].metadata["agents"]["backend"] == "cancelled"


async def test_timeout(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(
        tmp_path,
        {
            "slow": ([think(30)], {"timeout": 0.2}),
            "after": ([think(0.01)], {"needs": ["slow"]}),
        },
    )
    run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "failed"
    assert finished_status(events) == {"slow": "timed_out", "after": "blocked"}
    assert run.agents["slow"].error == "timed out after 0.2 s"


async def test_retries_until_success(tmp_path: Path, event_log: EventLog) -> None:
    # Fails on the first attempt (no marker yet), succeeds on the second.
    flaky = {"action": "run", "command": "test -f marker || { touch marker; exit 1; }"}
    spec = make_spec(
        tmp_path,
        {
            "flaky": ([flaky], {"retries": 2}),
            "hopeless": ([{"action": "fail", "message": "never"}], {"retries": 2}),
        },
    )
    run, status, events = await run_spec(event_log, spec, tmp_path, trust=True)
    assert status == "failed"
    assert finished_status(events) == {"flaky": "succeeded", "hopeless": "failed"}
    assert run.agents["flaky"].attempts == 2
    assert run.agents["hopeless"].attempts == 3
    retries = [e for e in events if e.type == "agent_output" and e.action == "retry"]
    assert sorted(e.actor or "" for e in retries) == ["flaky", "hopeless", "hopeless"]


async def test_gate_with_approve_all(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(
        tmp_path,
        {
            "backend": ([think(0.01)], {}),
            "deploy": ([think(0.01)], {"needs": ["backend"], "gate": "approve"}),
        },
    )
    _run, status, events = await run_spec(event_log, spec, tmp_path, approve_all=True)
    assert status == "succeeded"
    assert not any(e.type == "agent_gated" for e in events)
    assert finished_status(events)["deploy"] == "succeeded"


async def test_gate_handler_skip_and_start(tmp_path: Path, event_log: EventLog) -> None:
    asked: list[tuple[str, str]] = []

    async def handler(run: RunView, name: str, question: str) -> GateAnswer:
        asked.append((name, question))
        return "start" if name == "migrate" else "skip"

    spec = make_spec(
        tmp_path,
        {
            "backend": ([think(0.01)], {}),
            "migrate": ([think(0.01)], {"needs": ["backend"], "gate": "approve"}),
            "deploy": ([think(0.01)], {"needs": ["backend"], "gate": "approve"}),
            "announce": ([think(0.01)], {"needs": ["deploy"]}),
        },
    )
    _run, status, events = await run_spec(event_log, spec, tmp_path, gate_handler=handler)
    assert status == "failed"
    assert finished_status(events) == {
        "backend": "succeeded",
        "migrate": "succeeded",
        "deploy": "skipped",
        "announce": "blocked",
    }
    assert sorted(name for name, _q in asked) == ["deploy", "migrate"]
    assert all(q.startswith(f"Start {name}?") for name, q in asked)
    answers = {e.actor: e.action for e in events if e.type == "gate_answered"}
    assert answers == {"migrate": "start", "deploy": "skip"}
    assert index(events, "agent_gated", "deploy") < index(events, "gate_answered", "deploy")


async def test_queued_agents_start_first_come_first_served(tmp_path: Path, event_log: EventLog) -> None:
    # With one slot: `waiting` is queued behind `first`; `dependant` becomes ready later (when
    # `first` ends) and must not jump ahead of `waiting` into the freed slot.
    spec = make_spec(
        tmp_path,
        {
            "first": ([think(0.05)], {}),
            "waiting": ([think(0.01)], {}),
            "dependant": ([think(0.01)], {"needs": ["first"]}),
        },
    )
    _run, status, events = await run_spec(event_log, spec, tmp_path, max_parallel=1)
    assert status == "succeeded"
    starts = [e.actor for e in events if e.type == "agent_started"]
    assert starts == ["first", "waiting", "dependant"]
    assert index(events, "agent_finished", "first") + 1 < index(events, "agent_started", "dependant")


async def test_what_an_agent_waits_on_reads_the_same_in_events_and_text(
    tmp_path: Path, event_log: EventLog
) -> None:
    from counterpoint.engine.run import waiting_names, waiting_text

    spec = make_spec(
        tmp_path,
        {
            "backend": ([think(0.01), emit("schema")], {"emits": ["schema"]}),
            "docs": ([think(0.01)], {"needs": ["schema", "backend"]}),
        },
    )
    run, status, _events = await run_spec(event_log, spec, tmp_path)
    assert status == "succeeded"
    events = await event_log.query(run.run_id, "agent_waiting")
    assert [e.metadata["waiting_on"] for e in events if e.actor == "docs"] == [["backend", "schema"]]
    assert waiting_names({"agent:backend", "schema", "backend"}) == ["backend", "schema"]
    assert waiting_text(["agent:b", "a"]) == "a, b"

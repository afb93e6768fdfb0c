"""The director end to end in the engine, against loopback servers speaking the real OpenAI and
Anthropic wire formats (streamed, with tool calls and usage): it surveys the project through
read-only tools, its first draft has planted mistakes, `counterpoint check`'s findings go back to
it with their lines, it repairs them, and the spec it writes runs (with the replay runner)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from counterpoint.engine.director import PlanFailed, PlanOptions, plan_feature
from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.log import EventLog
from counterpoint.engine.run import RunOptions

from tests.llm.conftest import llm_settings
from tests.llm.fake_llm_server import FakeLLMServer
from tests.support.director import PLANTED, REVIEWED, DirectorScript, replayable

REQUEST = "Build a course enrollment feature"


def model_of(server: FakeLLMServer) -> str:
    return f"{server.flavor}:director-test"


def options(project: Path, server: FakeLLMServer, **extra: object) -> PlanOptions:
    settings = {"llm": llm_settings(server), "prices": {model_of(server): {"input": 1.0, "output": 4.0}}}
    return PlanOptions(REQUEST, project, model=model_of(server), user_settings=settings, **extra)  # type: ignore[arg-type]


async def test_the_director_repairs_its_draft_from_the_check_findings(
    project: Path, server: FakeLLMServer, event_log: EventLog
) -> None:
    script = DirectorScript(model_of(server))
    server.responder = script
    lines: list[str] = []
    outcome = await plan_feature(event_log, options(project, server, on_progress=lines.append))

    # Written at the root, named after the request, and it passes check as it stands on disk.
    assert outcome.path == project / "course-enrollment.agents.md"
    assert outcome.ok and outcome.errors == 0 and outcome.rounds == 2
    on_disk = await read_spec(outcome.path)
    assert not on_disk.has_errors, on_disk.diagnostics
    assert [a.name for a in on_disk.agents] == ["backend", "frontend", "quality", "docs", "integrator"]

    # The repair request carried each planted finding, with its line quoted.
    (repair,) = script.repair_requests
    for code in PLANTED:
        assert code in repair, repair
    assert "course-enrollment.agents.md:6:1: error: unknown front matter key 'max_paralel'" in repair
    assert "    6 | max_paralel: 3" in repair

    # The prediction: backend -> (schema at 20 min) frontend/quality ... integrator after all.
    prediction = outcome.prediction
    assert prediction is not None
    assert prediction.critical_path[0] == "backend" and prediction.critical_path[-1] == "integrator"
    assert prediction.sequential_minutes == 245
    assert prediction.critical_path_minutes == 110  # backend 90, then the integrator's 20
    assert prediction.speedup == pytest.approx(245 / prediction.predicted_minutes, abs=0.01)
    text = outcome.path.read_text()
    assert "Planned by `counterpoint plan`" in text and "predicted speed-up" in text
    assert "Checked by `counterpoint check` (2 drafts)" in text

    # The model saw the project through its tools, and the progress said so.
    assert any(line.startswith("> read_file(") for line in lines), lines
    assert any(line.startswith("draft 1: 4 errors") for line in lines), lines  # the cycle: 2 needs
    assert any("passes counterpoint check" in line for line in lines)

    # The event log has the plan under its own id: started, tools, usage, drafts, finished.
    events = await event_log.query(outcome.plan_id)
    kinds = [e.type for e in events]
    assert kinds[0] == "plan_started" and kinds[-1] == "plan_finished"
    assert {"tool_call", "usage", "plan_draft"} <= set(kinds)
    started, finished = events[0], events[-1]
    assert started.metadata["request"] == REQUEST and started.metadata["model"] == model_of(server)
    assert started.metadata["context"] == ["AGENTS.md"]
    drafts = [e for e in events if e.type == "plan_draft"]
    assert [d.metadata["errors"] for d in drafts] == [4, 0]
    assert all(any(code in f for f in drafts[0].metadata["findings"]) for code in PLANTED)
    assert finished.action == "ready" and finished.actor == "director"
    usage = [e for e in events if e.type == "usage"]
    assert finished.metadata["rounds"] == 2
    assert finished.metadata["requests"] == len(usage) == 4  # read, list, submit, resubmit
    assert finished.metadata["input_tokens"] == sum(e.metadata["input_tokens"] for e in usage) > 0
    assert finished.metadata["cost_usd"] == pytest.approx(sum(e.metadata["cost_usd"] for e in usage))
    assert finished.metadata["cost_usd"] > 0
    assert finished.metadata["prediction"]["critical_path"] == prediction.critical_path
    tools = [e.action for e in events if e.type == "tool_call"]
    assert "read_file" in tools and "list_files" in tools
    assert not any(e.action in ("write_file", "edit_file", "run_command") for e in events)

    # The conversation and the drafts are kept with the plan.
    kept = project / ".counterpoint" / "plans" / outcome.plan_id
    assert (kept / "conversation.json").is_file()
    assert sorted(p.name for p in kept.glob("draft-*.md")) == ["draft-1.md", "draft-2.md"]

    # Both providers got the project's overview and the shared context; the key never in the log.
    first = server.bodies()[0]
    assert "pytest" in str(first) and "backend-dev" in str(first) and "Keep modules small" in str(first)
    assert all("sk-test" not in str(e.metadata) and "sk-ant-test" not in str(e.metadata) for e in events)


async def test_a_draft_that_still_fails_is_written_with_its_findings(
    project: Path, server: FakeLLMServer, event_log: EventLog
) -> None:
    server.responder = DirectorScript(model_of(server), repairs=False, look=False)
    outcome = await plan_feature(event_log, options(project, server, max_rounds=2))
    assert not outcome.ok and outcome.rounds == 2 and outcome.errors == 4
    assert outcome.path.is_file()
    assert "still has 4 errors after 2 drafts" in outcome.message
    codes = {d.code for d in outcome.spec.diagnostics}
    assert {"dependency-cycle", "unknown-key", "unknown-signal"} <= codes
    assert outcome.prediction is None  # a cycle: no schedule to predict
    (finished,) = await event_log.query(outcome.plan_id, "plan_finished")
    assert finished.action == "invalid" and finished.metadata["errors"] == 4


async def test_the_planned_spec_runs_with_the_replay_runner(
    project: Path, server: FakeLLMServer, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.responder = DirectorScript(model_of(server), look=False)
    outcome = await plan_feature(event_log, options(project, server))
    assert outcome.ok
    replayable(outcome.path)
    spec = await read_spec(outcome.path)
    assert not spec.has_errors, spec.diagnostics
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    engine = Engine(project, event_log)
    run = await engine.start_run(spec, RunOptions(trust=True, watch=True))
    await engine.execute(run)
    status = run.status()
    assert status.state == "succeeded", status
    assert {a.name: a.state for a in status.agents} == dict.fromkeys(
        ["backend", "frontend", "quality", "docs", "integrator"], "succeeded"
    )
    events = await event_log.query(run.run_id)
    order = [(e.type, e.actor or e.action) for e in events]
    # The graph as planned: frontend and quality started once the schema file appeared.
    assert order.index(("signal", "schema_ready")) < order.index(("agent_started", "frontend"))
    assert order.index(("signal", "schema_ready")) < order.index(("agent_started", "quality"))
    assert any(e.type == "check_finished" and e.actor == "tests" for e in events)


async def test_no_model_configured(project: Path, event_log: EventLog) -> None:
    with pytest.raises(PlanFailed, match="no model configured for the director"):
        await plan_feature(event_log, PlanOptions(REQUEST, project, user_settings={}))
    assert await event_log.query(type="plan_started") == []


async def test_unreachable_model(project: Path, event_log: EventLog) -> None:
    settings = {"llm": {"openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": "k", "max_retries": 0}}
    with pytest.raises(PlanFailed, match=re.escape("cannot reach http://127.0.0.1:9/v1")):
        await plan_feature(event_log, PlanOptions(REQUEST, project, model="openai:m", user_settings=settings))
    (finished,) = await event_log.query(type="plan_finished")
    assert finished.action == "failed" and "cannot reach" in finished.metadata["error"]
    assert not list(project.glob("*.agents.md"))


async def test_budget_exceeded_keeps_the_last_draft(
    project: Path, server: FakeLLMServer, event_log: EventLog
) -> None:
    server.responder = DirectorScript(model_of(server), look=False)
    with pytest.raises(PlanFailed, match="budget is spent") as failed:
        await plan_feature(event_log, options(project, server, budget_usd=0.0000001))
    assert failed.value.path is not None and Path(failed.value.path).is_file()
    assert "the last draft (4 errors) is in" in str(failed.value)
    (finished,) = await event_log.query(type="plan_finished")
    assert finished.action == "failed" and finished.metadata["rounds"] == 1


async def test_a_draft_that_passes_check_is_reviewed_once_against_the_survey(
    project: Path, server: FakeLLMServer, event_log: EventLog
) -> None:
    """What the validator cannot know: the check reads pytest's output as gcc, and no integrator.
    The director's review says so (once, as notes), and the model fixes it."""
    script = DirectorScript(model_of(server), look=False, first="unreviewed")
    server.responder = script
    outcome = await plan_feature(event_log, options(project, server))
    assert outcome.ok and outcome.rounds == 2
    (advice,) = script.repair_requests
    assert "passes" in advice and all(code in advice for code in REVIEWED), advice
    assert "runs pytest but reads its output as gcc" in advice
    drafts = await event_log.query(outcome.plan_id, "plan_draft")
    assert [d.metadata["errors"] for d in drafts] == [0, 0]
    assert any(": note: no integrator" in f for f in drafts[0].metadata["findings"])
    assert drafts[1].metadata["findings"] == []
    assert any(a.settings.integrate for a in outcome.spec.agents)

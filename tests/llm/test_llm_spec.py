"""A real spec file with llm agents, through the spec parser and the engine; and cancelling."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine
from counterpoint.engine.log import EventLog
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.run.budget import RunBudget
from counterpoint.engine.spec import load_spec

from tests.llm.conftest import errors, llm_settings, make_spec
from tests.llm.fake_llm_server import FakeLLMServer, Item, Reply, Script, call

SPEC = """---
feature: greeting
context: [AGENTS.md]
budget_usd: 5
---
# Greeting

## writer
runner: llm
model: openai:gpt-4o-mini
emits: greeting_ready

Write hello.txt, then emit greeting_ready.

## reviewer
runner: llm
model: anthropic:claude-haiku-4-5
needs: greeting_ready

Read hello.txt and write review.md.
"""


async def test_spec_file_runs_llm_agents_and_reports_usage(
    tmp_path: Path, openai_server: FakeLLMServer, anthropic_server: FakeLLMServer
) -> None:
    (tmp_path / ".counterpoint").mkdir()
    (tmp_path / "AGENTS.md").write_text("Be brief.\n")
    path = tmp_path / "greeting.agents.md"
    path.write_text(SPEC)
    spec = load_spec(SPEC, path)
    assert not spec.has_errors, spec.diagnostics
    openai_server.responder = Script(
        {
            "writer": [
                Reply("", [call("write_file", path="hello.txt", content="hello\n")]),
                Reply("", [call("emit_signal", name="greeting_ready")]),
                Reply("done"),
            ]
        }
    )
    anthropic_server.responder = Script(
        {
            "reviewer": [
                Reply("", [call("read_file", path="hello.txt")]),
                Reply("", [call("write_file", path="review.md", content="LGTM\n")]),
                Reply("done"),
            ]
        }
    )
    settings = {**llm_settings(openai_server), **llm_settings(anthropic_server)}
    engine = await Engine.open(tmp_path)
    try:
        extra = {"llm_settings": settings, "budget": RunBudget(spec.budget_usd)}
        run = engine.create_run(spec, RunOptions(watch=False, extra=extra))
        report = await engine.execute(run)
    finally:
        await engine.aclose()
    assert run.result_status == "succeeded"
    assert (tmp_path / "review.md").read_text() == "LGTM\n"
    usage = report["usage"]
    assert usage["writer"]["requests"] == 3 and usage["reviewer"]["requests"] == 3
    assert usage["writer"]["cost_usd"] > 0 and usage["reviewer"]["cache_read_tokens"] > 0
    assert "Be brief." in openai_server.bodies()[0]["messages"][0]["content"]


async def test_cancel_stops_the_agent_and_keeps_its_transcript(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    script = Script({"slow": [Reply("", [call("write_file", path="a.txt", content="a")])]})

    def responder(agent: str | None, body: dict[str, Any]) -> Item:
        if len(openai_server.requests) > 1:
            time.sleep(3)  # the second answer never comes in time
        return script(agent, body)

    openai_server.responder = responder
    spec = make_spec(tmp_path, {"slow": {"model": "openai:gpt-test"}})
    extra = {"llm_settings": llm_settings(openai_server), "record": True, "budget": RunBudget()}
    run = Run(spec, event_log, tmp_path, RunOptions(watch=False, extra=extra))
    task = asyncio.create_task(run.execute())
    while len(openai_server.requests) < 2:
        await asyncio.sleep(0.02)
    run.cancel()
    status = await asyncio.wait_for(task, 5)
    assert status == "cancelled"
    assert errors(await event_log.query(run.run_id))["slow"] == "cancelled"
    transcript = tmp_path / ".counterpoint" / "runs" / run.run_id / "transcripts" / "slow.jsonl"
    lines = transcript.read_text().splitlines()
    assert '"write_file"' in lines[1] and lines[-1] == '{"action": "fail", "message": "cancelled"}'

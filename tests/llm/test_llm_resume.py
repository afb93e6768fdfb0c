"""A resumed run continues an LLM agent's recorded conversation instead of starting it over."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunOptions

from tests.llm.fake_llm_server import FakeLLMServer, Item, Reply, call

SPEC = """---
runner: llm
model: openai:gpt-test
---
# Resume

## a
- Write out/a.txt, then say you are done.
"""


async def test_resume_continues_the_conversation(tmp_path: Path) -> None:
    release = threading.Event()

    def responder(agent: str | None, body: dict[str, Any]) -> Item:
        turn = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        if turn == 0:
            return Reply(
                text="Writing it.", tool_calls=[call("write_file", path="out/a.txt", content="one\n")]
            )
        release.wait(15)  # the first run is cancelled while the model "thinks" here
        return Reply(text="Done: out/a.txt is written.")

    server = FakeLLMServer("openai", responder).start()
    try:
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "counterpoint"
        config.mkdir(parents=True, exist_ok=True)
        (config / "settings.json").write_text(
            json.dumps(
                {"llm": {"openai_base_url": server.url, "openai_api_key": "sk-test", "max_retries": 0}}
            )
        )
        (tmp_path / ".git").mkdir()
        (tmp_path / "resume.agents.md").write_text(SPEC)
        engine = await Engine.open(tmp_path)
        spec = await read_spec(tmp_path / "resume.agents.md")
        run = engine.create_run(spec, RunOptions(watch=False))
        first = asyncio.ensure_future(engine.execute(run))
        for _ in range(300):  # until the second request (after the tool call) is waiting
            if len(server.requests) >= 2 or first.done():
                break
            await asyncio.sleep(0.05)
        assert len(server.requests) == 2, [r.body for r in server.requests]
        run.cancel()
        await first
        release.set()

        # The engine rebuilds the run from its log; the agent picks up its saved conversation.
        again = await engine.continue_run(run.run_id, reason="resume")
        report = await engine.execute(again)
        assert report["status"] == "succeeded", report
        events = await engine.events(run.run_id)
        writes = [e for e in events if e.type == "tool_call" and e.action == "write_file"]
        assert len(writes) == 1, "the write of the first run is not done again"
        assert (tmp_path / "out" / "a.txt").read_text() == "one\n"
        # The resumed request carries the earlier turn: the tool call and its result.
        body = server.requests[-1].body
        roles = [m.get("role") for m in body["messages"]]
        assert "tool" in roles and roles.count("assistant") == 1, roles
        outputs = [
            line
            for e in events
            if e.type == "agent_output"
            for line in e.metadata.get("lines", [e.metadata.get("line")])
        ]
        assert any("resuming its conversation" in str(line) for line in outputs), outputs
        await engine.aclose()
    finally:
        server.stop()

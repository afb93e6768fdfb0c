"""The llm runner end to end: real `Run`s of llm agents against fake servers on 127.0.0.1.

The fakes speak the real wire formats (streaming SSE with tool calls and usage), so
these tests go through pydantic-ai and the providers' SDKs exactly as a live run does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from counterpoint.engine.log import EventLog

from tests.llm.conftest import errors, llm_settings, make_spec, outputs, run_spec
from tests.llm.fake_llm_server import FakeLLMServer, Reply, Script, call

SHARED = "# Project rules\nUse dataclasses. Keep modules small.\n"


def first_user_text(body: dict[str, Any]) -> str:
    for message in body["messages"]:
        if message["role"] == "user":
            content = message["content"]
            return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    raise AssertionError("no user message")


def team_script() -> Script:
    return Script(
        {
            "models": [
                Reply(
                    "Writing the models.\nFirst the file.",
                    [call("write_file", path="app/models.py", content="class User:\n    pass\n")],
                ),
                Reply(
                    "",
                    [
                        call(
                            "edit_file",
                            path="app/models.py",
                            search="    pass",
                            replace="    name: str",
                        )
                    ],
                ),
                Reply(
                    "",
                    [call("emit_signal", name="models_ready", metadata={"file": "app/models.py"})],
                ),
                Reply("Done: the User model."),
            ],
            "api": [
                Reply("", [call("read_file", path="app/models.py")]),
                Reply(
                    "",
                    [call("write_file", path="app/api.py", content="from app.models import User\n")],
                ),
                Reply("Done: the API."),
            ],
            "docs": [
                Reply("", [call("write_file", path="docs/README.md", content="# Docs\nTODO\n")]),
                Reply("", [call("edit_file", path="docs/README.md", search="NOT THERE", replace="x")]),
                Reply(
                    "",
                    [
                        call(
                            "edit_file",
                            path="docs/README.md",
                            search="TODO",
                            replace="Users and the API.",
                        )
                    ],
                ),
                Reply("Done: docs."),
            ],
        }
    )


async def test_agents_complete_multi_step_tasks_concurrently(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    (tmp_path / "AGENTS.md").write_text(SHARED)
    openai_server.responder = team_script()
    spec = make_spec(
        tmp_path,
        {
            "models": {
                "model": "openai:gpt-test",
                "emits": ["models_ready"],
                "task": "Write the User model.",
            },
            "api": {
                "model": "openai:gpt-test",
                "needs": ["models_ready"],
                "task": "Write the API.",
            },
            "docs": {"model": "openai:gpt-test", "task": "Write the docs."},
        },
    )
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded", errors(events)
    assert (tmp_path / "app/models.py").read_text() == "class User:\n    name: str\n"
    assert (tmp_path / "app/api.py").read_text() == "from app.models import User\n"
    assert (tmp_path / "docs/README.md").read_text() == "# Docs\nUsers and the API.\n"
    signal = next(e for e in events if e.type == "signal" and e.action == "models_ready")
    assert signal.actor == "models" and signal.metadata == {"file": "app/models.py"}
    written = {(e.actor, e.action) for e in events if e.type == "file_written"}
    assert written == {
        ("models", "app/models.py"),
        ("api", "app/api.py"),
        ("docs", "docs/README.md"),
    }
    # Streamed text became whole lines, tool calls show as they arrive.
    lines = outputs(events, "models")
    assert "Writing the models." in lines and "First the file." in lines
    assert any(line.startswith("> write_file(path=app/models.py") for line in lines)
    # The API agent saw the file it read; the docs agent got the edit error back and tried again.
    api_bodies = openai_server.bodies("api")
    assert "name: str" in json.dumps(api_bodies[1]["messages"][-1])
    assert "search text was not found" in json.dumps(openai_server.bodies("docs")[2]["messages"])
    assert any("! edit_file" in line for line in outputs(events, "docs"))
    # One usage event per response, with the cached tokens the server reported.
    usage = [e for e in events if e.type == "usage"]
    assert len(usage) == len(openai_server.requests) == 11
    assert {e.action for e in usage} == {"openai:gpt-test"}
    assert sum(e.metadata["cache_read_tokens"] for e in usage) > 0
    assert all(e.metadata["input_tokens"] > 0 and e.metadata["requests"] == 1 for e in usage)


async def test_shared_prefix_is_byte_identical_across_agents(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    (tmp_path / "AGENTS.md").write_text(SHARED)
    openai_server.responder = team_script()
    spec = make_spec(
        tmp_path,
        {
            "models": {"model": "openai:gpt-test", "emits": ["models_ready"]},
            "api": {"model": "openai:gpt-test", "needs": ["models_ready"]},
            "docs": {"model": "openai:gpt-test"},
        },
    )
    _run, status, _events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded"
    prefixes = {
        json.dumps([body["tools"], body["messages"][0]], sort_keys=True) for body in openai_server.bodies()
    }
    assert len(prefixes) == 1
    system = openai_server.bodies()[0]["messages"][0]
    assert system["role"] == "system" and "Use dataclasses." in system["content"]
    # What is the agent's own comes after the prefix.
    assert {first_user_text(b).split("\n")[0] for b in openai_server.bodies()} == {
        "You are the agent `models`.",
        "You are the agent `api`.",
        "You are the agent `docs`.",
    }


async def test_anthropic_agents_share_a_cached_prefix(
    tmp_path: Path, event_log: EventLog, anthropic_server: FakeLLMServer
) -> None:
    (tmp_path / "AGENTS.md").write_text(SHARED)
    anthropic_server.responder = Script(
        {
            name: [
                Reply(f"{name} starts", [call("write_file", path=f"{name}.txt", content=name)]),
                Reply("", [call("emit_signal", name=f"{name}_done")]),
                Reply("finished"),
            ]
            for name in ("one", "two", "three")
        }
    )
    spec = make_spec(
        tmp_path,
        {
            n: {"model": "anthropic:claude-sonnet-4-6", "emits": [f"{n}_done"]}
            for n in ("one", "two", "three")
        },
    )
    settings = llm_settings(anthropic_server)
    _run, status, events = await run_spec(event_log, spec, tmp_path, extra={"llm_settings": settings})
    assert status == "succeeded", errors(events)
    assert [(tmp_path / f"{n}.txt").read_text() for n in ("one", "two", "three")] == [
        "one",
        "two",
        "three",
    ]
    assert {e.action for e in events if e.type == "signal"} == {
        "one_done",
        "two_done",
        "three_done",
    }
    systems = {json.dumps(body["system"]) for body in anthropic_server.bodies()}
    assert len(systems) == 1
    blocks = anthropic_server.bodies()[0]["system"]
    assert "Use dataclasses." in blocks[-1]["text"] and blocks[-1]["cache_control"]["type"] == "ephemeral"
    usage = [e.metadata for e in events if e.type == "usage"]
    assert len(usage) == 9
    assert sum(u["cache_read_tokens"] for u in usage) > 0 and sum(u["cache_write_tokens"] for u in usage) > 0
    # Known model: a cost per response.
    assert all(u["cost_usd"] > 0 for u in usage)


async def test_role_loads_a_claude_code_subagent(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    (tmp_path / ".claude" / "agents").mkdir(parents=True)
    (tmp_path / ".claude" / "agents" / "reviewer.md").write_text(
        "---\nname: reviewer\ndescription: Reviews code\ntools: Read, Grep, WebFetch\n"
        "model: openai:gpt-test\n---\n"
        "You review code and never change it.\n"
    )
    openai_server.responder = Script({"rev": [Reply("Looks fine.")], "plain": [Reply("ok")]})
    spec = make_spec(tmp_path, {"rev": {"role": "reviewer"}, "plain": {"model": "openai:gpt-test"}})
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded", errors(events)
    body = openai_server.bodies("rev")[0]
    assert [t["function"]["name"] for t in body["tools"]] == [
        "read_file",
        "search",
        "emit_signal",
        "wait_for_signal",
    ]
    assert "You review code and never change it." in first_user_text(body)
    assert body["messages"][0] == openai_server.bodies("plain")[0]["messages"][0]
    assert any("WebFetch" in line for line in outputs(events, "rev"))


async def test_missing_role_fails_with_the_path(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(tmp_path, {"a": {"role": "ghost", "model": "openai:gpt-test"}})
    _run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "failed"
    assert ".claude/agents/ghost.md not found" in errors(events)["a"]

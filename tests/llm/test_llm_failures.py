"""The llm runner when things go wrong: retries, auth, keys, limits, budget; and record/replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog
from counterpoint.engine.run.budget import RunBudget

from tests.llm.conftest import errors, llm_settings, make_spec, run_spec
from tests.llm.fake_llm_server import Failure, FakeLLMServer, Reply, Script, call

EXPENSIVE = {"openai:gpt-test": {"input": 1000.0, "output": 1000.0}}


async def test_rate_limit_and_server_errors_are_retried(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    openai_server.responder = Script(
        {
            "a": [
                Failure(429, "slow down", {"retry-after-ms": "300", "retry-after": "1"}),
                Failure(503, "overloaded"),
                Reply("", [call("write_file", path="a.txt", content="done")]),
                Reply("finished"),
            ]
        }
    )
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test"}})
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded", errors(events)
    assert (tmp_path / "a.txt").read_text() == "done"
    first, second, third = openai_server.requests[:3]
    assert second.at - first.at >= 0.29  # the server's retry-after was honoured
    assert second.headers.get("x-stainless-retry-count") == "1"
    assert third.headers.get("x-stainless-retry-count") == "2"
    assert first.body == second.body == third.body
    assert len([e for e in events if e.type == "usage"]) == 2


async def test_auth_error_fails_at_once_naming_the_variable(
    tmp_path: Path,
    event_log: EventLog,
    openai_server: FakeLLMServer,
    anthropic_server: FakeLLMServer,
) -> None:
    openai_server.responder = Script({"*": [Failure(401, "Incorrect API key provided")] * 5})
    anthropic_server.responder = Script({"*": [Failure(403, "forbidden")] * 5})
    spec = make_spec(tmp_path, {"o": {"model": "openai:gpt-test"}, "c": {"model": "anthropic:claude-test"}})
    settings = {**llm_settings(openai_server), **llm_settings(anthropic_server)}
    _run, status, events = await run_spec(event_log, spec, tmp_path, extra={"llm_settings": settings})
    assert status == "failed"
    assert "set OPENAI_API_KEY" in errors(events)["o"] and "(401)" in errors(events)["o"]
    assert "set ANTHROPIC_API_KEY" in errors(events)["c"] and "(403)" in errors(events)["c"]
    assert len(openai_server.requests) == 1 and len(anthropic_server.requests) == 1  # never retried


async def test_missing_key_fails_before_any_request(tmp_path: Path, event_log: EventLog) -> None:
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test"}, "b": {"model": "mistral:large"}})
    settings = {"openai_base_url": "https://llm.example.com/v1"}
    _run, status, events = await run_spec(event_log, spec, tmp_path, extra={"llm_settings": settings})
    assert status == "failed"
    assert "set OPENAI_API_KEY" in errors(events)["a"]
    assert "openai:<name> or anthropic:<name>" in errors(events)["b"]


async def test_local_endpoint_needs_no_key_and_env_is_used(
    tmp_path: Path,
    event_log: EventLog,
    openai_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.url)
    openai_server.responder = Script({"a": [Reply("hello from a local model")]})
    spec = make_spec(tmp_path, {"a": {"model": "openai:llama3"}})
    _run, status, events = await run_spec(event_log, spec, tmp_path)
    assert status == "succeeded", errors(events)
    assert openai_server.requests[0].headers["authorization"] == "Bearer counterpoint-local"
    assert openai_server.requests[0].body["model"] == "llama3"


async def test_run_budget_is_shared_and_fails_the_agent(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    openai_server.responder = Script(
        {"a": [Reply("", [call("write_file", path=f"f{i}.txt", content="x")]) for i in range(5)]}
    )
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test"}}, budget_usd=0.01)
    budget = RunBudget(0.01)
    extra = {"llm_settings": llm_settings(openai_server), "prices": EXPENSIVE, "budget": budget}
    _run, status, events = await run_spec(event_log, spec, tmp_path, extra=extra)
    assert status == "failed"
    assert "budget of $0.0100 is spent" in errors(events)["a"] and "budget_usd" in errors(events)["a"]
    assert len(openai_server.requests) == 1
    usage = [e.metadata for e in events if e.type == "usage"]
    assert budget.spent == usage[0]["cost_usd"] > 0.01
    assert budget.by_agent == {"a": budget.spent}


async def test_max_requests_and_max_tokens_fail_the_agent(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    loop = [Reply("", [call("list_files")]) for _ in range(6)]
    openai_server.responder = Script({"r": list(loop), "t": list(loop)})
    spec = make_spec(
        tmp_path,
        {
            "r": {"model": "openai:gpt-test", "max_requests": 2},
            "t": {"model": "openai:gpt-test", "max_tokens": 50},
        },
    )
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "failed"
    assert "reached its limit (max_requests 2)" in errors(events)["r"]
    assert "max_tokens 50" in errors(events)["t"]
    assert len(openai_server.bodies("r")) == 2


async def test_recorded_session_replays_to_the_same_files(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    openai_server.responder = Script(
        {
            "a": [
                Reply(
                    "Creating the module.",
                    [call("write_file", path="src/mod.py", content="X = 1\n")],
                ),
                Reply("", [call("edit_file", path="src/mod.py", search="X = 1", replace="X = 2")]),
                Reply("", [call("emit_signal", name="mod_ready", metadata={"file": "src/mod.py"})]),
                Reply("All done."),
            ]
        }
    )
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test", "emits": ["mod_ready"]}})
    run, status, _ = await run_spec(
        event_log,
        spec,
        tmp_path,
        record=True,
        extra={"llm_settings": llm_settings(openai_server), "record": True},
    )
    assert status == "succeeded"
    transcript = tmp_path / ".counterpoint" / "runs" / run.run_id / "transcripts" / "a.jsonl"
    steps = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert [s["action"] for s in steps if s["action"] != "think"] == [
        "say",
        "write_file",
        "edit_file",
        "emit",
        "say",
    ]
    assert all(s["seconds"] >= 0 for s in steps if s["action"] == "think")
    recorded = (tmp_path / "src/mod.py").read_bytes()
    (tmp_path / "src/mod.py").unlink()

    replay = make_spec(
        tmp_path,
        {
            "a": {
                "runner": "replay",
                "transcript": str(transcript.relative_to(tmp_path)),
                "emits": ["mod_ready"],
            }
        },
    )
    _run, status, events = await run_spec(event_log, replay, tmp_path)
    assert status == "succeeded", errors(events)
    assert (tmp_path / "src/mod.py").read_bytes() == recorded == b"X = 2\n"
    signal = next(e for e in events if e.type == "signal")
    assert (signal.action, signal.actor, signal.metadata) == (
        "mod_ready",
        "a",
        {"file": "src/mod.py"},
    )
    assert len(openai_server.requests) == 4  # the replay asked the model nothing


async def test_rate_limit_that_does_not_end_fails_with_the_status(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    busy = Failure(429, "rate limit reached for requests", {"retry-after-ms": "20"})
    openai_server.responder = Script({"a": [busy] * 5})
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test"}})
    extra = {"llm_settings": llm_settings(openai_server, max_retries=2)}
    _run, status, events = await run_spec(event_log, spec, tmp_path, extra=extra)
    assert status == "failed"
    message = errors(events)["a"]
    assert "429 from http://127.0.0.1" in message and "after 2 retries" in message
    assert "rate limit reached for requests" in message
    assert len(openai_server.requests) == 3

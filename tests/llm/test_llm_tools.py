"""The llm agent's tools: confinement to the workspace (symlinks too) and consent for commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog
from counterpoint.engine.runners.llm_models import parse_role
from counterpoint.engine.runners.llm_tools import LineStream

from tests.llm.conftest import errors, llm_settings, make_spec, outputs, run_spec
from tests.llm.fake_llm_server import FakeLLMServer, Reply, Script, call
from tests.support.workspaces import workspace_with_link_out

SECRET = "TOP-SECRET-VALUE"


async def test_tools_cannot_leave_the_workspace(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    workspace, outside = workspace_with_link_out(tmp_path)
    (outside / "secret.txt").write_text(SECRET)
    attempts = [
        call("read_file", path="../outside/secret.txt"),
        call("read_file", path="link/secret.txt"),
        call("read_file", path=str(outside / "secret.txt")),
        call("write_file", path="link/planted.txt", content="x"),
        call("edit_file", path="link/secret.txt", search="TOP", replace="gone"),
        call("list_files", path="link"),
        call("search", text="SECRET", path=".."),
    ]
    openai_server.responder = Script({"a": [Reply("", [a]) for a in attempts] + [Reply("gave up")]})
    spec = make_spec(workspace, {"a": {"model": "openai:gpt-test"}})
    _run, status, events = await run_spec(
        event_log, spec, workspace, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded", errors(events)
    assert not (outside / "planted.txt").exists()
    assert (outside / "secret.txt").read_text() == SECRET
    sent = json.dumps([r.body for r in openai_server.requests])
    assert SECRET not in sent  # the model never saw the secret
    assert sent.count("is outside the workspace") >= len(attempts)
    refused = [
        e for e in events if e.type == "tool_call" and "outside the workspace" in str(e.metadata.get("error"))
    ]
    assert len(refused) == len(attempts) and {e.actor for e in refused} == {"a"}
    assert len([line for line in outputs(events, "a") if line.startswith("! ")]) == len(attempts)


async def test_run_command_without_consent_fails_with_how_to(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    openai_server.responder = Script(
        {"a": [Reply("", [call("run_command", command="touch ran.txt")]), Reply("ok")]}
    )
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test"}})
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "failed"
    message = errors(events)["a"]
    assert "not allowed to run 'touch ran.txt'" in message
    assert "--trust" in message and "COUNTERPOINT_TRUST=1" in message
    assert not (tmp_path / "ran.txt").exists()
    assert len(openai_server.requests) == 1


async def test_run_command_with_trust_runs_and_reports(
    tmp_path: Path,
    event_log: EventLog,
    openai_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")
    openai_server.responder = Script(
        {
            "a": [
                Reply("", [call("run_command", command="echo made > ran.txt && echo hello && exit 3")]),
                Reply("it exited with 3"),
            ]
        }
    )
    spec = make_spec(tmp_path, {"a": {"model": "openai:gpt-test"}})
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded", errors(events)
    assert (tmp_path / "ran.txt").read_text() == "made\n"
    assert "hello" in outputs(events, "a")
    tool_result = openai_server.bodies("a")[1]["messages"][-1]
    assert tool_result["role"] == "tool" and tool_result["content"].startswith("exit code 3\nhello")
    recorded = next(e for e in events if e.type == "tool_call" and e.action == "run_command")
    assert recorded.actor == "a" and recorded.metadata["exit_code"] == 3


async def test_wait_for_signal_tool_gets_the_metadata(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer
) -> None:
    openai_server.responder = Script(
        {
            "waiter": [
                Reply("", [call("wait_for_signal", name="ping", timeout_s=10)]),
                Reply("got it"),
            ],
            "pinger": [
                Reply("", [call("emit_signal", name="ping", metadata={"n": 7})]),
                Reply("sent"),
            ],
            "late": [
                Reply("", [call("wait_for_signal", name="never", timeout_s=0.1)]),
                Reply("moved on"),
            ],
        }
    )
    spec = make_spec(tmp_path, {n: {"model": "openai:gpt-test"} for n in ("waiter", "pinger", "late")})
    _run, status, events = await run_spec(
        event_log, spec, tmp_path, extra={"llm_settings": llm_settings(openai_server)}
    )
    assert status == "succeeded", errors(events)
    assert 'signal ping fired: {"n": 7}' in openai_server.bodies("waiter")[1]["messages"][-1]["content"]
    assert "did not fire within 0.1 s" in openai_server.bodies("late")[1]["messages"][-1]["content"]


def test_line_stream_coalesces_pieces_into_lines() -> None:
    lines: list[str] = []
    stream = LineStream(lines.append)
    for piece in ["Hel", "lo wo", "rld\nsec", "ond\n\nthi", "rd"]:
        stream.feed(piece)
    assert lines == ["Hello world", "second", ""]
    stream.flush()
    assert lines[-1] == "third"
    stream.feed("x" * 4500)
    assert [len(line) for line in lines[-2:]] == [2000, 2000]


def test_role_front_matter_maps_claude_code_tools() -> None:
    role = parse_role(
        "---\nname: builder\ndescription: Builds\n"
        "tools: Read, Write, Edit, MultiEdit, Glob, Bash, Task\n"
        "model: sonnet\n---\nBuild things.\n",
        "builder",
    )
    assert role.tools == ("read_file", "write_file", "edit_file", "list_files", "run_command")
    assert role.unknown_tools == ("Task",)
    assert role.model is not None and role.model.startswith("anthropic:claude-sonnet")
    assert role.prompt == "Build things."
    plain = parse_role("Just a prompt.\n", "plain")
    assert plain.tools is None and plain.model is None and plain.prompt == "Just a prompt."
    assert parse_role("---\nmodel: inherit\n---\nx", "i").model is None


def test_a_role_may_name_exactly_the_tools_an_agent_gets(tmp_path: Path) -> None:
    from counterpoint.engine.runners.llm_tools import TranscriptRecorder, make_tools

    from tests.unit.agent_harness import make_harness

    built = [t.name for t in make_tools(make_harness(tmp_path).ctx, None, TranscriptRecorder(False))]
    role = parse_role("---\ntools: " + ", ".join(built) + ", not_a_tool\n---\nx", "all")
    assert role.tools == tuple(built) and len(built) == 8
    assert role.unknown_tools == ("not_a_tool",)
    only_read = make_tools(make_harness(tmp_path).ctx, ("read_file",), TranscriptRecorder(False))
    assert [t.name for t in only_read] == ["read_file", "emit_signal", "wait_for_signal"]

"""End-to-end tests of `runner: acp` through a real `Run`, against the fake ACP agent.

Each test starts ``tests/acp/fake_agent.py`` (a real subprocess speaking ACP
on stdio through the SDK's agent side) and checks what the run recorded in
its SQLite event log and what happened on disk.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from counterpoint.engine.log import EventLog
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.runners.acp import LineBuffer, choose_permission
from counterpoint_protocol.events import Event, output_lines
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

FAKE_AGENT = Path(__file__).with_name("fake_agent.py")
STDERR_CAUSE = "--dangerously-skip-permissions cannot be used with root/sudo privileges"
QUERY_CLOSED = "Query closed before response received"


def fake_command(scenario: str, *args: str) -> str:
    return " ".join([sys.executable, str(FAKE_AGENT), scenario, *args])


def make_spec(folder: Path, name: str, command: str, **settings: Any) -> Spec:
    path = folder / "feature.agents.md"
    path.write_text(f"# feature\n\n## {name}\nrunner: acp\ncommand: {command}\n\nDo the task.\n")
    agent = AgentSpec(
        name=name,
        settings=AgentSettings(runner="acp", command=command, **settings),
        task="Do the task.",
        heading_range=SourceRange.on_line(2),
        name_range=SourceRange.on_line(2, 3, 3 + len(name)),
        section_end_line=6,
    )
    return Spec(path=str(path), feature="feature", agents=[agent])


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")
    root = tmp_path / "ws"
    (root / ".counterpoint").mkdir(parents=True)
    (root / "input.txt").write_text("hello acp\n")
    return root


async def run_spec(
    root: Path,
    spec: Spec,
    extra: dict[str, Any] | None = None,
    *,
    cancel_after_output: str | None = None,
) -> tuple[str, list[Event], Run]:
    log = await EventLog.open(root / ".counterpoint" / "events.db")
    try:
        run = Run(spec, log, root, RunOptions(watch=False, extra=extra or {}))
        task = asyncio.ensure_future(run.execute())
        if cancel_after_output is not None:
            await wait_for_output(log, run, cancel_after_output)
            run.cancel()
        status = await asyncio.wait_for(task, 30)
        events = await log.query(run.run_id)
        return status, events, run
    finally:
        await log.close()


async def wait_for_output(log: EventLog, run: Run, text: str) -> None:
    for _ in range(400):
        await log.flush()
        for event in await log.query(run.run_id, "agent_output"):
            if text in event.metadata.get("line", ""):
                return
        await asyncio.sleep(0.025)
    raise AssertionError(f"no output line with {text!r}")


def lines(events: list[Event]) -> list[str]:
    return [line for e in events if e.type == "agent_output" for line in output_lines(e)]


def finished(events: list[Event], name: str) -> Event:
    return next(e for e in events if e.type == "agent_finished" and e.actor == name)


async def test_write_scenario_reads_streams_asks_and_writes(workspace: Path) -> None:
    spec = make_spec(workspace, "coder", fake_command("write"))
    status, events, _ = await run_spec(workspace, spec)

    assert status == "succeeded", finished(events, "coder").metadata
    assert (workspace / "output.txt").read_text() == "HELLO ACP\n"
    written = [e for e in events if e.type == "file_written"]
    assert [(e.actor, e.action) for e in written] == [("coder", "output.txt")]
    reads = [e for e in events if e.type == "tool_call" and e.action == "read_file"]
    assert reads and reads[0].actor == "coder" and "error" not in reads[0].metadata
    out = lines(events)
    # Chunks are coalesced into whole lines; tool calls and plans get lines of their own.
    assert "Read 10 chars from input.txt." in out
    assert "Writing output.txt now." in out
    assert "tool: Write output.txt (pending)" in out
    assert "tool: Write output.txt (completed)" in out
    assert "plan: [x] write output.txt" in out
    assert out[-1] == "Done."
    permission = next(e for e in events if e.type == "tool_call" and e.action == "permission")
    assert permission.actor == "coder"
    assert permission.metadata["decision"] == "allow_once"
    assert permission.metadata["option_id"] == "yes"
    assert permission.metadata["paths"] == [str(workspace / "output.txt")]


async def test_reject_policy_keeps_the_agent_from_writing(workspace: Path) -> None:
    spec = make_spec(workspace, "coder", fake_command("write"))
    status, events, _ = await run_spec(workspace, spec, {"acp_permission": "reject"})

    assert status == "succeeded"
    assert not (workspace / "output.txt").exists()
    permission = next(e for e in events if e.action == "permission")
    assert permission.metadata["decision"] == "reject_once"
    assert "not allowed (no)" in lines(events)


async def test_write_outside_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    spec = make_spec(workspace, "escaper", fake_command("escape", str(outside)))
    status, events, _ = await run_spec(workspace, spec)

    assert status == "succeeded"
    assert not outside.exists()
    permission = next(e for e in events if e.action == "permission")
    assert permission.metadata["decision"] == "reject_once"
    assert "outside the workspace" in permission.metadata["reason"]
    write = next(e for e in events if e.type == "tool_call" and e.action == "write_file")
    assert write.actor == "escaper" and "outside the workspace" in write.metadata["error"]
    assert not [e for e in events if e.type == "file_written"]
    out = lines(events)
    assert "permission: no" in out  # what the agent was told
    assert any(line.startswith("write refused:") and "outside the workspace" in line for line in out)


async def test_cancel_sends_session_cancel_and_leaves_no_process(workspace: Path) -> None:
    spec = make_spec(workspace, "slow", fake_command("slow"))
    status, events, _ = await run_spec(workspace, spec, cancel_after_output="tick 3")

    assert status == "cancelled"
    assert finished(events, "slow").action == "cancelled"
    out = lines(events)
    pid = int(next(line for line in out if line.startswith("pid=")).removeprefix("pid="))
    # The agent honoured session/cancel (it ended its turn with stop reason cancelled) ...
    assert "cancelled (the agent ended its turn: cancelled)" in out
    # ... and nothing of its process is left.
    assert gone(pid)


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_cancel_kills_an_agent_that_ignores_it_with_its_children(workspace: Path) -> None:
    spec = make_spec(workspace, "stubborn", fake_command("stubborn"))
    status, events, _ = await run_spec(workspace, spec, cancel_after_output="tick 2")

    assert status == "cancelled"
    assert finished(events, "stubborn").action == "cancelled"
    first = next(line for line in lines(events) if line.startswith("pid="))
    pids = [int(part.split("=")[1]) for part in first.split()]
    assert len(pids) == 2 and all(gone(pid) for pid in pids)


async def test_agent_crash_fails_with_its_last_stderr(workspace: Path) -> None:
    spec = make_spec(workspace, "crasher", fake_command("crash"))
    status, events, _ = await run_spec(workspace, spec)

    assert status == "failed"
    error = finished(events, "crasher").metadata["error"]
    # The cause comes first, the protocol's view of it after.
    assert error.startswith("fake agent: something broke")
    assert error.endswith("(the ACP agent exited with 3 during session/prompt)")
    assert "about to crash" in lines(events)


@pytest.mark.parametrize(
    ("scenario", "during"), [("fail-init", "initialize"), ("fail-prompt", "session/prompt")]
)
async def test_protocol_error_comes_with_the_agents_stderr(
    workspace: Path, scenario: str, during: str
) -> None:
    # Claude Code's adapter answers "Query closed before response received" and says why only on
    # its stderr; the failure must carry both, the agent still being alive when the answer came.
    spec = make_spec(workspace, "claude", fake_command(scenario))
    status, events, run = await run_spec(workspace, spec)

    assert status == "failed"
    error = finished(events, "claude").metadata["error"]
    assert QUERY_CLOSED in error and STDERR_CAUSE in error, error
    assert error.index(QUERY_CLOSED) < error.index(STDERR_CAUSE)
    assert run.agents["claude"].error == error
    assert error.startswith(f"the ACP agent answered {during} with an error")


async def test_handshake_timeout_comes_with_the_agents_stderr(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import counterpoint.engine.runners.acp as acp_runner

    monkeypatch.setattr(acp_runner, "HANDSHAKE_TIMEOUT", 3.0)
    # The cause is assembled by the shell, so it is in the error only if stderr was read.
    spec = make_spec(workspace, "mute", 'W=login; echo "waiting for a browser $W" >&2; exec sleep 60')
    status, events, _ = await run_spec(workspace, spec)

    assert status == "failed"
    error = finished(events, "mute").metadata["error"]
    assert error.startswith("no ACP answer to initialize within 3 s")
    assert "waiting for a browser login" in error


async def test_stderr_in_the_failure_is_bounded_recent_and_redacted(workspace: Path) -> None:
    secret = "sk-" + "a1b2c3d4" * 4
    command = (
        'for i in $(seq 1 300); do echo "noise line $i" >&2; done; '
        f'echo "key {secret} refused" >&2; echo "the real cause" >&2; exit 1'
    )
    spec = make_spec(workspace, "noisy", command)
    status, events, run = await run_spec(workspace, spec)

    assert status == "failed"
    error = run.agents["noisy"].error or ""
    assert "the real cause" in error and "noise line 300" in error
    assert "noise line 1 " not in error and "noise line 200 " not in error
    assert secret not in error and "key *** refused" in error
    assert len(error.encode()) < 4096 + 200
    assert error == finished(events, "noisy").metadata["error"]


async def test_refusal_fails_the_agent(workspace: Path) -> None:
    spec = make_spec(workspace, "refuser", fake_command("refuse"))
    status, events, _ = await run_spec(workspace, spec)

    assert status == "failed"
    assert "refusal" in finished(events, "refuser").metadata["error"]


async def test_command_that_is_not_an_acp_agent_fails(workspace: Path) -> None:
    spec = make_spec(workspace, "plain", "echo not an agent >&2; exit 5")
    status, events, _ = await run_spec(workspace, spec)

    assert status == "failed"
    error = finished(events, "plain").metadata["error"]
    assert "exited with 5 during initialize" in error and "not an agent" in error


async def test_without_consent_nothing_starts(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COUNTERPOINT_TRUST")
    marker = tmp_path / "started.marker"
    spec = make_spec(workspace, "coder", fake_command("write"), env={"FAKE_ACP_MARKER": str(marker)})
    status, events, _ = await run_spec(workspace, spec)

    assert status == "failed"
    error = finished(events, "coder").metadata["error"]
    assert "not allowed to run" in error and "COUNTERPOINT_TRUST=1" in error
    assert not marker.exists()
    assert not (workspace / "output.txt").exists()


async def test_marker_proves_the_agent_starts_with_consent(workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "started.marker"
    spec = make_spec(workspace, "coder", fake_command("write"), env={"FAKE_ACP_MARKER": str(marker)})
    status, _, _ = await run_spec(workspace, spec)

    assert status == "succeeded"
    assert marker.read_text().isdigit()


def test_permission_policy() -> None:
    from acp.schema import PermissionOption

    options = [
        PermissionOption(option_id="a1", name="Allow", kind="allow_once"),
        PermissionOption(option_id="a2", name="Always", kind="allow_always"),
        PermissionOption(option_id="r1", name="Reject", kind="reject_once"),
    ]
    assert choose_permission("allow_once", "edit", [], options).option_id == "a1"
    assert choose_permission("allow_always", "edit", [], options).option_id == "a2"
    assert choose_permission("allow_once", "edit", ["/etc/passwd"], options).option_id == "r1"
    assert choose_permission("allow_once", "execute", [], options).option_id == "r1"
    assert choose_permission("allow_all", "execute", [], options).option_id == "a1"
    assert choose_permission("reject", "read", [], options).option_id == "r1"
    assert choose_permission("bogus", "read", [], options).option_id == "r1"
    only_allow = options[:1]
    denied = choose_permission("reject", "read", [], only_allow)
    assert denied.option_id is None and denied.kind == "cancelled"


def test_line_buffer_coalesces_chunks() -> None:
    seen: list[str] = []
    buffer = LineBuffer(seen.append, "> ")
    for chunk in ["Hel", "lo\nwor", "ld\n\n", "tail"]:
        buffer.feed(chunk)
    assert seen == ["> Hello", "> world"]
    buffer.flush()
    assert seen == ["> Hello", "> world", "> tail"]

"""Tests for the command runner: real subprocesses fed the task, their output, signals, exits and limits."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest
from counterpoint.engine.log import EventLog
from counterpoint.engine.process import MAX_LINE
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.runners.base import AgentFailed
from counterpoint.engine.runners.command import CommandRunner, parse_signal_line
from counterpoint.engine.workspace.context import ContextFile, SharedContext
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

from tests.support.workspaces import workspace_with_link_out
from tests.unit.agent_harness import make_harness

AGENT_SCRIPT = """
import json, os, sys
task = sys.stdin.read()
print("agent=" + os.environ["COUNTERPOINT_AGENT"])
with open(os.environ["COUNTERPOINT_TASK_FILE"], encoding="utf-8") as fh:
    print("task_file_matches=" + str(fh.read() == task))
print("task_env=" + os.environ["COUNTERPOINT_TASK"])
with open("stdin.txt", "w", encoding="utf-8") as fh:
    fh.write(task)
print("::signal built " + json.dumps({"files": 3, "ok": True}))
print("::signal plain")
print("::signal odd not json")
print("done")
"""


def processes_with(marker: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line mentions ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


async def wait_gone(marker: str, seconds: float = 3.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while True:
        left = await asyncio.to_thread(processes_with, marker)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.05)


def unique_sleep() -> str:
    """A sleep duration no other process on the machine uses, to find our grandchild by."""
    return f"{os.getpid() % 10000 + 70000}.{time.monotonic_ns() % 100000}"


def test_parse_signal_line() -> None:
    assert parse_signal_line('::signal ready {"a": 1}') == ("ready", {"a": 1})
    assert parse_signal_line("::signal ready") == ("ready", {})
    assert parse_signal_line("::signal ready [1, 2]") == ("ready", {"value": [1, 2]})
    assert parse_signal_line("::signal ready not json") == ("ready", {"text": "not json"})
    assert parse_signal_line("::signal ") is None
    assert parse_signal_line("hello ::signal ready") is None


async def test_task_on_stdin_env_and_signals(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(AGENT_SCRIPT)
    shared = SharedContext((ContextFile("AGENTS.md", "Use type hints."),))
    harness = make_harness(
        tmp_path,
        name="builder",
        task="Write the schema.\n",
        runner="command",
        command=f"{sys.executable} agent.py",
        shared_context=shared,
    )
    await CommandRunner().run(harness.ctx)

    stdin = (tmp_path / "stdin.txt").read_text()
    assert "Use type hints." in stdin
    assert "# Task for agent builder" in stdin
    assert "Write the schema." in stdin
    assert stdin.index("Use type hints.") < stdin.index("Write the schema.")
    assert "agent=builder" in harness.outputs
    assert "task_file_matches=True" in harness.outputs
    assert "task_env=Write the schema." in harness.outputs
    assert harness.outputs[-1] == "done"
    assert not any(line.startswith("::signal") for line in harness.outputs)
    assert harness.signals == [
        ("built", {"files": 3, "ok": True}),
        ("plain", {}),
        ("odd", {"text": "not json"}),
    ]


async def test_nonzero_exit_fails_with_last_stderr_line(tmp_path: Path) -> None:
    harness = make_harness(
        tmp_path,
        runner="command",
        command="echo progress; echo 'warming up' >&2; echo 'database is locked' >&2; echo; exit 3",
    )
    with pytest.raises(AgentFailed) as caught:
        await CommandRunner().run(harness.ctx)
    message = str(caught.value)
    assert "exited with 3" in message
    assert message.endswith("database is locked")
    assert "progress" in harness.outputs


async def test_env_setting_reaches_the_command(tmp_path: Path) -> None:
    harness = make_harness(
        tmp_path, runner="command", command='echo "flavour=$FLAVOUR"', env={"FLAVOUR": "mint"}
    )
    await CommandRunner().run(harness.ctx)
    assert harness.outputs == ["flavour=mint"]


async def test_command_without_consent_does_not_run(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, trust=False, runner="command", command="touch marker")
    with pytest.raises(AgentFailed, match="--trust"):
        await CommandRunner().run(harness.ctx)
    assert not (tmp_path / "marker").exists()


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = unique_sleep()
    where = SourceRange.on_line(3, 0, 9)
    agent = AgentSpec(
        name="spinner",
        settings=AgentSettings(
            runner="command",
            command=f"sleep {marker} & while true; do echo tick; sleep 0.05; done",
            timeout=0.6,
        ),
        task="spin",
        heading_range=where,
        name_range=where,
        section_end_line=5,
    )
    spec = Spec(path=str(tmp_path / "t.agents.md"), agents=[agent])
    log = await EventLog.open(tmp_path / ".counterpoint" / "events.db")
    try:
        run = Run(spec, log, tmp_path, RunOptions(watch=False, trust=True))
        assert await run.execute() == "failed"
        finished = await log.query(run.run_id, "agent_finished")
    finally:
        await log.close()
    assert finished[0].action == "timed_out"
    assert "timed out" in finished[0].metadata["error"]
    assert await wait_gone(marker) == []


async def test_cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = unique_sleep()
    harness = make_harness(
        tmp_path, runner="command", command=f"sleep {marker} & echo started; while true; do sleep 0.05; done"
    )
    task = asyncio.ensure_future(CommandRunner().run(harness.ctx))
    deadline = time.monotonic() + 5
    while "started" not in harness.outputs and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert await asyncio.to_thread(processes_with, marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone(marker) == []


async def test_flood_without_newlines_stays_bounded(tmp_path: Path) -> None:
    size = 50_000_000
    command = f"{sys.executable} -c \"import sys; sys.stdout.buffer.write(b'x' * {size})\""
    harness = make_harness(tmp_path, runner="command", command=command, keep_outputs=False)
    me = psutil.Process()
    before = me.memory_info().rss
    peak = before

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.01)

    sampler = asyncio.ensure_future(sample())
    try:
        await CommandRunner().run(harness.ctx)
    finally:
        sampler.cancel()
    peak = max(peak, me.memory_info().rss)
    assert peak - before < 500_000_000
    # Output arrived as lines cut at MAX_LINE (marked), never as one 50 MB line.
    assert harness.output_lines > 1
    assert harness.longest_output <= MAX_LINE + len(" [cut]")
    assert harness.outputs[-1].endswith(" [cut]")


async def test_binary_output_is_decoded_not_fatal(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 40 + b"\n\xff\xfe\x00tail\n"
    (tmp_path / "blob.bin").write_bytes(payload)
    harness = make_harness(tmp_path, runner="command", command="cat blob.bin; cat blob.bin >&2")
    await CommandRunner().run(harness.ctx)
    assert harness.outputs
    assert all("\x00" not in line for line in harness.outputs)
    assert harness.outputs.count("\ufffd\ufffdtail") == 2
    json.dumps(harness.outputs)  # every line can go into the event log


async def test_command_that_ignores_a_large_task_on_stdin(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, task="x" * 2_000_000, runner="command", command="echo ignoring stdin")
    await CommandRunner().run(harness.ctx)
    assert harness.outputs == ["ignoring stdin"]
    task_file = tmp_path / ".counterpoint" / "runs" / "test-run" / "tasks" / "agent.md"
    assert task_file.stat().st_size > 2_000_000


async def test_large_non_ascii_task_still_starts_the_command(tmp_path: Path) -> None:
    """Linux caps one environment string at 128 KiB: COUNTERPOINT_TASK must stay under it in bytes."""
    task = "漢字" * 100_000
    harness = make_harness(
        tmp_path, task=task, runner="command", command='echo "${#COUNTERPOINT_TASK}"; wc -c'
    )
    await CommandRunner().run(harness.ctx)
    assert int(harness.outputs[0]) > 0
    assert int(harness.outputs[1]) >= len(task.encode("utf-8"))  # the whole task still arrives on stdin


@pytest.mark.parametrize("runner", ["command", "acp"])
async def test_a_working_folder_outside_is_refused_before_the_user_is_asked(
    tmp_path: Path, runner: str
) -> None:
    from counterpoint.engine.runners import get_runner

    root, outside = workspace_with_link_out(tmp_path, "away")
    asked: list[str] = []

    async def asker(workspace: str, command: str) -> bool:
        asked.append(command)
        return True

    harness = make_harness(root, trust=False, asker=asker, runner=runner, command="touch marker")
    harness.ctx.cwd = root / "away"
    with pytest.raises(AgentFailed, match=r"working folder \(cwd\) .* is outside the workspace"):
        await get_runner(runner).run(harness.ctx)
    assert asked == [] and not (outside / "marker").exists()
    harness.ctx.cwd = root
    try:
        await get_runner(runner).run(harness.ctx)  # `touch` is no ACP agent: that run fails after asking
    except AgentFailed:
        assert runner == "acp"
    assert asked == ["touch marker"] and (root / "marker").exists()

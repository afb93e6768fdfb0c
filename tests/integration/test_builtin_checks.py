"""The built-in integration checks in real runs: signals declared but never fired, needs that can
no longer be met, and files written by more than one agent (exactly, and by command agents).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import emit, fail, run_spec, think, write, write_spec


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")


async def test_declared_signal_never_fired_is_a_warning_on_its_emits_item(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
feature: emits
---
# Emits

## lazy
emits: started, done
transcript: transcripts/lazy.jsonl
""",
        {"lazy": [emit("started"), think(0.05)]},
    )
    result = await run_spec(spec)
    (finding,) = result.findings("integration")
    lazy = result.spec.agent("lazy")
    assert lazy is not None
    assert finding["rule"] == "never-emitted"
    assert finding["severity"] == "warning"
    assert finding["abs_path"] == result.spec.path
    assert finding["range"] == lazy.item_ranges["emits"]["done"].model_dump()
    assert "done" in finding["message"] and "lazy" in finding["message"]
    # Found even though `lazy` was the run's last agent: before the run ended.
    assert result.position("finding", "integration") < result.position("run_finished")
    assert result.report["integration"]["found"] == 1


async def test_need_whose_emitter_failed_blocks_the_waiter_at_once(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
feature: blocked
---
# Blocked

## maker
emits: schema_ready
transcript: transcripts/maker.jsonl

## waiter
needs: schema_ready
transcript: transcripts/waiter.jsonl

## slow
transcript: transcripts/slow.jsonl
""",
        {
            "maker": [think(0.05), fail("no schema today")],
            "waiter": [think(0.01)],
            "slow": [think(1.5)],
        },
    )
    result = await run_spec(spec)
    assert result.status == "failed"
    (blocked,) = result.of("agent_finished", "waiter")
    assert blocked.action == "blocked"
    assert "maker failed" in blocked.metadata["error"]
    # At once: right after the emitter failed, long before the slow agent (and the run) ended.
    assert result.position("agent_finished", "maker") < result.position("agent_finished", "waiter")
    assert result.position("agent_finished", "waiter") < result.position("agent_finished", "slow")
    assert not result.of("agent_started", "waiter")
    (finding,) = result.findings("integration")
    waiter = result.spec.agent("waiter")
    assert waiter is not None
    assert finding["rule"] == "unreachable-need"
    assert finding["severity"] == "error"
    assert finding["abs_path"] == result.spec.path
    assert finding["range"] == waiter.item_ranges["needs"]["schema_ready"].model_dump()
    assert "waiter needs schema_ready" in finding["message"]
    assert result.position("finding", "integration") < result.position("agent_finished", "slow")


async def test_two_replay_agents_writing_one_file_are_named(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
feature: shared
---
# Shared

## alpha
transcript: transcripts/alpha.jsonl

## beta
transcript: transcripts/beta.jsonl
""",
        {
            "alpha": [write("app/shared.py", "a = 1\n"), think(0.1)],
            "beta": [think(0.05), write("app/shared.py", "b = 2\n"), write("app/beta.py", "c = 3\n")],
        },
    )
    result = await run_spec(spec)
    (finding,) = result.findings("integration")
    assert finding["rule"] == "shared-file"
    assert finding["severity"] == "warning"
    assert finding["abs_path"] == str((tmp_path / "app" / "shared.py").resolve())
    assert "app/shared.py" in finding["message"]
    assert "alpha" in finding["message"] and "beta" in finding["message"]
    assert "uncertain" not in finding["message"]
    assert result.report["shared_writes"] == {"app/shared.py": ["alpha", "beta"]}


@pytest.mark.usefixtures("trusted")
async def test_command_agents_writing_one_file_at_once_are_uncertain(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
feature: shared by commands
---
# Shared by commands

## left
runner: command
command: sleep 0.2 && echo left > shared.txt && sleep 1

## right
runner: command
command: sleep 0.5 && echo right > shared.txt && sleep 0.8
""",
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    findings = [f for f in result.findings("integration") if f["rule"] == "shared-file"]
    (finding,) = findings
    assert finding["abs_path"] == str((tmp_path / "shared.txt").resolve())
    assert "left" in finding["message"] and "right" in finding["message"]
    assert "uncertain" in finding["message"]


@pytest.mark.usefixtures("trusted")
async def test_command_agents_writing_their_own_files_at_once_are_not_shared(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
feature: own files
---
# Own files

## left
runner: command
command: sleep 0.2 && echo left > left.txt && sleep 1

## right
runner: command
command: sleep 0.5 && echo right > right.txt && sleep 0.8
""",
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    assert (tmp_path / "left.txt").is_file() and (tmp_path / "right.txt").is_file()
    # Each file changed once while both ran: one of them wrote it, so it is no shared file.
    assert not result.findings("integration")

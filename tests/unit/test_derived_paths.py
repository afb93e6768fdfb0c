"""Files named after agents, and path settings, at run time: nothing lands outside its folder.

The validator refuses bad names and outside paths, but the runners must hold on their own
(a resumed old run, a caller that skipped validation): each test drives a real runner with a
hostile name or path and looks at the disk afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from counterpoint.engine.runners.base import AgentFailed
from counterpoint.engine.runners.command import CommandRunner
from counterpoint.engine.runners.llm import conversation_path
from counterpoint.engine.runners.llm_tools import transcript_path
from counterpoint.engine.runners.replay import ReplayRunner
from counterpoint.engine.workspace.safe_paths import UnsafePath, name_file

from tests.unit.agent_harness import make_harness

HOSTILE = ["../../../../../x", "../../../../x", "a/b", "..", ".hidden", "two words", "x\x00y", ""]


def deep_root(tmp_path: Path) -> Path:
    root = tmp_path / "a" / "b" / "c" / "ws"
    root.mkdir(parents=True)
    return root


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", HOSTILE)
def test_name_file_refuses_names_outside_the_grammar(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePath, match="not a valid name"):
        name_file(tmp_path, name, ".md")


def test_name_file_refuses_a_symlink_planted_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "agent.md").symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(UnsafePath, match="would leave"):
        name_file(tmp_path / "tasks", "agent", ".md")
    assert name_file(tmp_path / "tasks", "other", ".md") == tmp_path / "tasks" / "other.md"


@pytest.mark.parametrize("name", ["../../../../../x", "../../../../x", "a/b"])
async def test_command_runner_refuses_a_hostile_name_before_writing(tmp_path: Path, name: str) -> None:
    root = deep_root(tmp_path)
    harness = make_harness(root, name=name, runner="command", command="touch ran")
    with pytest.raises(AgentFailed, match="not a valid name") as caught:
        await CommandRunner().run(harness.ctx)
    assert "\n" not in str(caught.value)
    assert files_under(tmp_path) == set()  # no task file anywhere, and the command never ran


@pytest.mark.parametrize("name", ["../../../../../x", "a/b"])
def test_llm_files_refuse_a_hostile_name(tmp_path: Path, name: str) -> None:
    harness = make_harness(deep_root(tmp_path), name=name, runner="llm")
    with pytest.raises(AgentFailed, match="not a valid name"):
        conversation_path(harness.ctx)
    with pytest.raises(AgentFailed, match="not a valid name"):
        transcript_path(harness.ctx)


def test_llm_files_of_a_good_name_stay_in_the_run_folder(tmp_path: Path) -> None:
    root = deep_root(tmp_path)
    harness = make_harness(root, name="writer.v2", runner="llm")
    run_dir = root / ".counterpoint" / "runs" / "test-run"
    assert conversation_path(harness.ctx) == run_dir / "conversations" / "writer.v2.json"
    assert transcript_path(harness.ctx) == run_dir / "transcripts" / "writer.v2.jsonl"


async def test_command_runner_refuses_a_cwd_outside_the_workspace(tmp_path: Path) -> None:
    root = deep_root(tmp_path)
    harness = make_harness(root, runner="command", command="touch escaped")
    harness.ctx.cwd = root / ".." / ".." / ".."
    with pytest.raises(AgentFailed, match="outside the workspace"):
        await CommandRunner().run(harness.ctx)
    assert files_under(tmp_path) == set()


async def test_replay_runner_refuses_a_transcript_outside_the_workspace(tmp_path: Path) -> None:
    root = deep_root(tmp_path)
    outside = tmp_path / "outside.jsonl"
    outside.write_text(json.dumps({"action": "write_file", "path": "pwned.txt", "content": "x"}) + "\n")
    for transcript in ("../../../../outside.jsonl", str(outside)):
        harness = make_harness(root, runner="replay", transcript=transcript)
        with pytest.raises(AgentFailed, match="outside the workspace"):
            await ReplayRunner().run(harness.ctx)
        assert not (root / "pwned.txt").exists()
    (root / "link.jsonl").symlink_to(outside)
    harness = make_harness(root, runner="replay", transcript="link.jsonl")
    with pytest.raises(AgentFailed, match="outside the workspace"):
        await ReplayRunner().run(harness.ctx)
    assert not (root / "pwned.txt").exists()


async def test_acp_runner_refuses_a_cwd_outside_the_workspace(tmp_path: Path) -> None:
    from counterpoint.engine.runners.acp import ACPRunner

    root = deep_root(tmp_path)
    harness = make_harness(root, runner="acp", command="touch escaped")
    harness.ctx.cwd = root / ".." / ".." / ".."
    with pytest.raises(AgentFailed, match="outside the workspace"):
        await ACPRunner().run(harness.ctx)
    assert files_under(tmp_path) == set()


def test_every_face_finds_the_same_workspace_root_and_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from counterpoint.cli.common import workspace_log
    from counterpoint.engine import engine
    from counterpoint.engine.workspace import consent, paths, safe_paths, user_config

    root = tmp_path / "ws"
    (root / ".counterpoint").mkdir(parents=True)
    spec = root / "deep" / "er" / "a.agents.md"
    spec.parent.mkdir(parents=True)
    assert engine.find_workspace_root is paths.find_workspace_root
    assert not hasattr(safe_paths, "find_workspace_root")  # one definition, in paths
    assert paths.find_workspace_root(spec) == root
    monkeypatch.delenv("COUNTERPOINT_EVENTS_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert workspace_log(spec.parent) is None  # no log yet
    paths.db_path(root).touch()
    assert workspace_log(spec.parent) == root
    paths.db_path(root).unlink()
    monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", "postgresql://u@127.0.0.1:9/x")
    assert workspace_log(spec.parent) == root  # the database the user configured is the log
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert (
        consent.trust_file().parent == user_config.settings_file().parent == tmp_path / "cfg" / "counterpoint"
    )
    assert paths.config_dirs()[0] == tmp_path / "cfg" / "counterpoint"


def test_children_never_get_the_event_log_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PostgreSQL URL may carry a password: agents and checks (children) do not inherit it."""
    from counterpoint.engine.process import child_env

    monkeypatch.setenv("COUNTERPOINT_EVENTS_URL", "postgresql://u:secret@127.0.0.1:9/x")
    assert "COUNTERPOINT_EVENTS_URL" not in child_env()
    assert child_env({"A": "1"})["A"] == "1"

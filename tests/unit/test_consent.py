"""Tests for consent to run a spec's commands: denied by default, granted by flag, env, allowlist or asking."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from counterpoint.engine.workspace.consent import (
    ConsentDenied,
    ConsentPolicy,
    load_trusted,
    remember_trusted,
    trust_file,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


class Asker:
    def __init__(self, answer: bool, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.questions: list[tuple[str, str]] = []

    async def __call__(self, workspace: str, what: str) -> bool:
        self.questions.append((workspace, what))
        await asyncio.sleep(self.delay)
        return self.answer


async def test_denied_without_trust(workspace: Path) -> None:
    policy = ConsentPolicy(workspace)
    assert not await policy.allowed("make build")
    with pytest.raises(ConsentDenied) as caught:
        await policy.require("make build")
    message = str(caught.value)
    assert "'make build'" in message
    assert "--trust" in message
    assert "COUNTERPOINT_TRUST=1" in message
    assert str(trust_file()) in message


async def test_trust_flag_allows(workspace: Path) -> None:
    await ConsentPolicy(workspace, trust=True).require("make build")


@pytest.mark.parametrize("value", ["1", "true", "YES"])
async def test_env_trust_allows(workspace: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("COUNTERPOINT_TRUST", value)
    assert await ConsentPolicy(workspace).allowed("make build")


@pytest.mark.parametrize("value", ["0", "", "no"])
async def test_env_trust_other_values_do_not(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("COUNTERPOINT_TRUST", value)
    assert not await ConsentPolicy(workspace).allowed("make build")


async def test_remembered_trust_lives_in_the_user_config(workspace: Path, _user_config: Path) -> None:
    remember_trusted(workspace)
    assert trust_file() == _user_config / "counterpoint" / "trust.json"
    assert json.loads(trust_file().read_text()) == {"workspaces": [str(workspace.resolve())]}
    assert list(workspace.iterdir()) == []  # nothing written into the (untrusted) workspace
    assert await ConsentPolicy(workspace).allowed("make build")
    other = workspace.parent / "other"
    other.mkdir()
    assert not await ConsentPolicy(other).allowed("make build")


async def test_remember_keeps_earlier_workspaces(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    remember_trusted(first)
    remember_trusted(second)
    remember_trusted(first)
    assert load_trusted() == {str(first.resolve()), str(second.resolve())}


async def test_unreadable_trust_file_means_no_trust(workspace: Path) -> None:
    trust_file().parent.mkdir(parents=True, exist_ok=True)
    trust_file().write_text("{not json")
    assert load_trusted() == set()
    assert not await ConsentPolicy(workspace).allowed("make build")


async def test_yes_is_asked_once_and_remembered(workspace: Path) -> None:
    asker = Asker(True, delay=0.05)
    policy = ConsentPolicy(workspace, asker=asker)
    answers = await asyncio.gather(*(policy.allowed(f"cmd {i}") for i in range(5)))
    assert answers == [True] * 5
    assert len(asker.questions) == 1
    assert asker.questions[0][0] == str(workspace.resolve())
    assert await policy.allowed("one more")
    assert len(asker.questions) == 1
    # A later run (a new policy, no asker) finds the workspace in the user's allowlist.
    assert await ConsentPolicy(workspace).allowed("make build")
    assert str(workspace.resolve()) in load_trusted()
    assert list(workspace.iterdir()) == []


async def test_no_is_asked_once_and_not_remembered(workspace: Path) -> None:
    asker = Asker(False, delay=0.05)
    policy = ConsentPolicy(workspace, asker=asker)
    answers = await asyncio.gather(*(policy.allowed(f"cmd {i}") for i in range(3)))
    assert answers == [False] * 3
    with pytest.raises(ConsentDenied):
        await policy.require("again")
    assert len(asker.questions) == 1
    assert load_trusted() == set()
    assert not trust_file().exists()


# -- consent cannot be obtained from inside the run ------------------------------------------------------


async def test_consent_is_read_once_before_the_run(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = ConsentPolicy(workspace)
    await policy.snapshot()  # what a run does before its first agent starts
    remember_trusted(workspace)  # granted afterwards (by anyone): not this run's consent
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")
    assert not await policy.allowed("make build")
    assert await ConsentPolicy(workspace).allowed("make build")  # the next run sees it


@pytest.fixture
def dotfiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder kept in git: the user config folder lies inside the workspace."""
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


async def test_a_trust_file_inside_the_workspace_is_ignored(
    dotfiles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remember_trusted(dotfiles)  # as an agent of this workspace could have written it
    assert trust_file().is_relative_to(dotfiles)
    policy = ConsentPolicy(dotfiles)
    with caplog.at_level(logging.WARNING):
        assert not await policy.allowed("make build")
    assert f"ignoring {trust_file()}" in caplog.text
    assert "inside the workspace" in caplog.text
    with pytest.raises(ConsentDenied) as caught:
        await policy.require("make build")
    assert f"ignoring {trust_file()}" in str(caught.value)
    assert "--trust" in str(caught.value)
    # The explicit ways still work.
    assert await ConsentPolicy(dotfiles, trust=True).allowed("make build")


async def test_a_trust_file_linked_into_the_workspace_is_ignored(workspace: Path, _user_config: Path) -> None:
    planted = workspace / "trust.json"
    planted.write_text(json.dumps({"workspaces": [str(workspace.resolve())]}))
    trust_file().parent.mkdir(parents=True, exist_ok=True)
    trust_file().symlink_to(planted)
    assert not await ConsentPolicy(workspace).allowed("make build")


async def test_a_trust_file_of_another_workspace_is_honoured(dotfiles: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    remember_trusted(project)
    assert await ConsentPolicy(project).allowed("make build")


async def test_yes_inside_a_workspace_holding_the_config_grants_this_run_only(dotfiles: Path) -> None:
    asker = Asker(True)
    policy = ConsentPolicy(dotfiles, asker=asker)
    assert await policy.allowed("make build")
    assert await policy.allowed("make test")
    assert len(asker.questions) == 1
    assert not trust_file().exists()  # it would be ignored: not written

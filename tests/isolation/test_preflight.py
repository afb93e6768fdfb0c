"""The pre-flight: `open_repo` refuses what a run cannot use, with the fix in the message."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from counterpoint.engine.isolation import IsolationError, open_repo

from tests.support.git import git


async def test_a_repository_is_described(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({"app/main.py": "x = 1\n"})
    found = await open_repo(repo)
    assert found.toplevel == repo.resolve()
    assert found.git_dir == (repo / ".git").resolve()
    assert found.head == git(repo, "rev-parse", "HEAD").strip()
    assert found.branch == "main"
    assert found.workspace_rel == ""


async def test_a_workspace_below_the_top_folder(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({"packages/web/index.js": "x\n"})
    found = await open_repo(repo / "packages" / "web")
    assert found.toplevel == repo.resolve()
    assert found.workspace_rel == "packages/web"


async def test_unborn_and_detached(repo_factory: Callable[..., Path]) -> None:
    unborn = await open_repo(repo_factory(name="unborn", commit=False))
    assert unborn.head is None and unborn.branch == "main"
    repo = repo_factory({"a": "1\n"})
    git(repo, "checkout", "-q", "--detach")
    detached = await open_repo(repo)
    assert detached.head is not None and detached.branch is None


async def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(IsolationError, match="not in a git repository: run `git init`"):
        await open_repo(tmp_path / "plain")


async def test_a_bare_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "bare.git")
    with pytest.raises(IsolationError, match="bare repository"):
        await open_repo(tmp_path / "bare.git")


@pytest.mark.parametrize(
    ("command", "refused"),
    [
        (["merge", "-q", "other"], r"a merge is in progress.*git merge --abort"),
        (["rebase", "other"], r"a rebase is in progress.*git rebase --abort"),
    ],
)
async def test_in_the_middle_of_a_merge_or_a_rebase(
    repo_factory: Callable[..., Path], command: list[str], refused: str
) -> None:
    repo = repo_factory({"f.txt": "base\n"})
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "f.txt").write_text("other\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "f.txt").write_text("main\n")
    git(repo, "commit", "-qam", "main")
    git(repo, *command, check=False)  # stops at the conflict on f.txt
    with pytest.raises(IsolationError, match=refused):
        await open_repo(repo)


async def test_cherry_pick_and_bisect(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({"f.txt": "base\n"})
    (repo / ".git" / "CHERRY_PICK_HEAD").write_text(git(repo, "rev-parse", "HEAD"))
    with pytest.raises(IsolationError, match=r"cherry-pick is in progress.*--abort"):
        await open_repo(repo)
    (repo / ".git" / "CHERRY_PICK_HEAD").unlink()
    git(repo, "bisect", "start")
    with pytest.raises(IsolationError, match=r"bisect is in progress.*git bisect reset"):
        await open_repo(repo)


def fake_git(folder: Path, version: str) -> str:
    """A PATH whose only git prints ``git version <version>``."""
    folder.mkdir()
    script = folder / "git"
    script.write_text(f"#!/bin/sh\necho 'git version {version}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return f"{folder}{os.pathsep}/bin{os.pathsep}/usr/bin"


async def test_git_too_old(
    tmp_path: Path, repo_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_factory({"a": "1\n"})
    monkeypatch.setenv("PATH", fake_git(tmp_path / "old-git", "2.30.1"))
    with pytest.raises(IsolationError, match=r"git 2\.30\.1 is too old.*upgrade git"):
        await open_repo(repo)


async def test_git_missing(
    tmp_path: Path, repo_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_factory({"a": "1\n"})
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(IsolationError, match="git is not installed"):
        await open_repo(repo)

"""Reviewing an isolated run on a real git repository: its changes per agent and as a whole (the
diff), applying them to the user's working tree (their own changes and index untouched, refused
naming the files when the tree changed in a way that conflicts), discarding it, and a file at a
commit. The run's branches and events are made by hand (`tests.support.isolated_run`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from counterpoint.engine.engine import Engine, RunRefused
from counterpoint.engine.isolation.review import run_isolation
from counterpoint.engine.isolation.review_changes import ReviewRefused
from counterpoint_protocol.events import Event

from tests.support.isolated_run import (
    BACKEND,
    FRONTEND,
    LOGO,
    MODELS,
    IsolatedRun,
    build_isolated_run,
    git,
    make_repo,
    record,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def as_events(run_id: str, rows: list[tuple[str, str | None, str | None, dict]]) -> list[Event]:
    return [
        Event(
            id=n,
            run_id=run_id,
            type=kind,
            actor=actor,
            action=action,
            metadata=meta,
            timestamp="2026-12-02T10:15:00.000Z",
        )
        for n, (kind, actor, action, meta) in enumerate(rows, start=1)
    ]


@asynccontextmanager
async def engine_with_run(
    repo: Path, *, pid: int | None = None, finished: bool = True
) -> AsyncIterator[tuple[Engine, IsolatedRun]]:
    """An engine on ``repo`` whose log holds a run made by hand (`build_isolated_run`); closed after."""
    run = build_isolated_run(repo, pid=pid, finished=finished)
    await record(run, finished=finished)
    engine = await Engine.open(repo)
    try:
        yield engine, run
    finally:
        await engine.aclose()


def user_state(repo: Path) -> dict[str, str]:
    """What apply must leave alone: HEAD, the branch, the index (entries and staged changes)."""
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "index": git(repo, "ls-files", "-s"),
        "staged": git(repo, "diff", "--cached"),
    }


# -- the run from its events ------------------------------------------------------------------------


def test_the_run_is_read_from_its_events(repo: Path) -> None:
    run = build_isolated_run(repo)
    info = run_isolation(as_events(run.run_id, run.events))
    assert info.base == run.base
    assert info.integration == run.integration_ref
    assert set(info.by_agent) == {"backend", "frontend"}
    backend = info.by_agent["backend"]
    assert backend.branch == run.agent_ref("backend")
    assert backend.start_commit == run.base
    assert backend.order == 1 and info.by_agent["frontend"].order == 2
    assert backend.file_count == len(BACKEND)
    assert info.finished


def test_the_integration_copy_is_no_agent_and_an_integrator_changed_what_its_commit_added(repo: Path) -> None:
    run = build_isolated_run(repo, finished=False)
    copy = {
        "path": "/c/i",
        "branch": f"counterpoint/{run.run_id}/agents/integration",
        "start_commit": run.base,
    }
    fixed = f"{run.integration[:7]}-fix"
    run.events.insert(1, ("working_copy_created", "integration", "worktree", {**copy, "method": "worktree"}))
    run.events.append(
        (
            "agent_merged",
            "integrator",
            "clean",
            {"commit": fixed, "branch": run.integration_ref, "order": 3, "files": 1},
        )
    )
    info = run_isolation(as_events(run.run_id, run.events))
    assert set(info.by_agent) == {"backend", "frontend", "integrator"}
    integrator = info.by_agent["integrator"]
    assert (integrator.merged_from, integrator.merged, integrator.file_count) == (run.integration, fixed, 1)
    assert not info.finished


def test_a_shared_run_is_refused_with_a_reason() -> None:
    events = as_events("r1", [("run_started", None, "x", {"spec": "s", "agents": ["a"]})])
    with pytest.raises(ReviewRefused, match="did not isolate its agents"):
        run_isolation(events)


# -- diff -------------------------------------------------------------------------------------------


async def test_the_run_diff_lists_every_file_with_counts(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        result = await engine.diff_run(run.run_id)
    by_path = {f.path: f for f in result.files}
    assert result.base == run.base and result.head == run.integration
    assert set(by_path) == {
        "app/models.py",
        "app/schema.py",
        "old.txt",
        "web/page.html",
        "logo.bin",
        "renamed.txt",
    }
    assert by_path["app/models.py"].status == "modified"
    assert (by_path["app/models.py"].added, by_path["app/models.py"].removed) == (3, 2)
    assert by_path["app/schema.py"].status == "added" and by_path["app/schema.py"].added == 1
    assert by_path["old.txt"].status == "deleted" and by_path["old.txt"].removed == 1
    assert by_path["renamed.txt"].status == "renamed" and by_path["renamed.txt"].old_path == "name.txt"
    assert by_path["logo.bin"].binary and by_path["logo.bin"].added == 0
    assert by_path["web/page.html"].abs_path == str(repo.resolve() / "web" / "page.html")
    assert result.patch is None


async def test_an_agent_diff_is_its_own_work_only(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        backend = await engine.diff_run(run.run_id, "backend", patch=True)
        with pytest.raises(RunRefused, match=r"no isolated agent 'docs'.*backend, frontend"):
            await engine.diff_run(run.run_id, "docs")
        with pytest.raises(RunRefused, match="no such run"):
            await engine.diff_run("20990101-000000-nope00")
    assert {f.path for f in backend.files} == set(BACKEND)
    assert backend.head == run.tips["backend"]
    assert (
        backend.patch is not None
        and "+line 2 changed" in backend.patch
        and "diff --git a/app/schema.py" in backend.patch
    )


# -- apply ------------------------------------------------------------------------------------------


async def test_apply_writes_the_run_into_the_working_tree_and_leaves_the_users_changes(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        # The user's own work after the run started: an unrelated edit, and a staged one.
        (repo / "README.md").write_text("# Demo\n\nmine, not staged\n")
        (repo / "notes.txt").write_text("staged by hand\n")
        git(repo, "add", "notes.txt")
        before = user_state(repo)
        result = await engine.apply_run(run.run_id)
    assert len(result.files) == 6
    assert (repo / "app" / "models.py").read_text() == BACKEND["app/models.py"]
    assert (repo / "app" / "schema.py").read_text() == "SCHEMA = 1\n"
    assert not (repo / "old.txt").exists() and not (repo / "name.txt").exists()
    assert (repo / "renamed.txt").read_text() == FRONTEND["renamed.txt"]
    assert (repo / "logo.bin").read_bytes() == LOGO[::-1]
    assert (repo / "README.md").read_text() == "# Demo\n\nmine, not staged\n"
    assert user_state(repo) == before  # HEAD, branch and index as they were: notes.txt still staged
    assert git(repo, "rev-parse", f"refs/counterpoint/{run.run_id}/applied").strip() == run.integration


async def test_apply_refuses_naming_the_files_the_user_changed_in_conflict(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        (repo / "app" / "models.py").write_text(MODELS.replace("line 2\n", "line 2 edited by the user\n"))
        (repo / "web").mkdir()
        (repo / "web" / "page.html").write_text("<p>my own page</p>\n")
        snapshot = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
        before = user_state(repo)
        with pytest.raises(RunRefused) as refused:
            await engine.apply_run(run.run_id)
    message = str(refused.value)
    assert "app/models.py" in message and "web/page.html" in message and "nothing was changed" in message
    assert "app/schema.py" not in message
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert {p: v for p, v in after.items() if ".counterpoint" not in p.parts} == {
        p: v for p, v in snapshot.items() if ".counterpoint" not in p.parts
    }
    assert user_state(repo) == before


async def test_apply_twice_says_it_is_already_applied(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        await engine.apply_run(run.run_id)
        with pytest.raises(RunRefused, match="already applied"):
            await engine.apply_run(run.run_id)


async def test_a_run_live_in_another_process_is_not_applied_or_discarded(repo: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        async with engine_with_run(repo, pid=other.pid, finished=False) as (engine, run):
            with pytest.raises(RunRefused, match="still live"):
                await engine.apply_run(run.run_id)
            with pytest.raises(RunRefused, match="still live"):
                await engine.discard_run(run.run_id)
            assert (await engine.diff_run(run.run_id)).files
    finally:
        other.kill()
        other.wait()
    assert not (repo / "app" / "schema.py").exists()


async def test_an_interrupted_run_whose_process_is_gone_can_be_applied(repo: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    async with engine_with_run(repo, pid=gone.pid, finished=False) as (engine, run):
        result = await engine.apply_run(run.run_id)
    assert result.files and (repo / "app" / "schema.py").exists()


async def test_a_workspace_that_is_no_longer_a_repository_is_refused(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        os.rename(repo / ".git", repo / "git-moved")
        with pytest.raises(RunRefused, match="not in a git repository"):
            await engine.diff_run(run.run_id)


# -- discard ----------------------------------------------------------------------------------------


async def test_discard_deletes_the_runs_refs_and_copies_and_nothing_else(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        copy = repo / ".counterpoint" / "worktrees" / run.run_id / "backend"
        git(repo, "worktree", "add", "-q", "--detach", str(copy), run.base)
        git(repo, "branch", "keep-me")
        head = git(repo, "rev-parse", "HEAD")
        result = await engine.discard_run(run.run_id)
        with pytest.raises(RunRefused, match="discarded"):
            await engine.diff_run(run.run_id)
    assert set(result.refs) == {
        run.integration_ref,
        run.agent_ref("backend"),
        run.agent_ref("frontend"),
        f"refs/counterpoint/{run.run_id}/base",
    }
    assert (
        git(
            repo, "for-each-ref", f"refs/heads/counterpoint/{run.run_id}/", f"refs/counterpoint/{run.run_id}/"
        )
        == ""
    )
    assert result.working_copies == [str(copy)] and not copy.exists()
    assert "backend" not in git(repo, "worktree", "list")
    assert git(repo, "rev-parse", "HEAD") == head and "keep-me" in git(repo, "branch")


async def test_discard_refuses_while_the_user_is_on_a_branch_of_the_run(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        git(repo, "checkout", "-q", f"counterpoint/{run.run_id}/agents/backend")
        with pytest.raises(RunRefused, match="switch to another branch"):
            await engine.discard_run(run.run_id)


# -- a file at a commit -----------------------------------------------------------------------------


async def test_show_file_gives_a_file_at_a_commit(repo: Path) -> None:
    async with engine_with_run(repo) as (engine, run):
        review = engine.review()
        base = await review.show_file(run.run_id, run.base, "app/models.py")
        tip = await review.show_file(run.run_id, run.tips["backend"], "app/models.py")
        added = await review.show_file(run.run_id, run.base, "app/schema.py")
        binary = await review.show_file(run.run_id, run.base, "logo.bin")
        by_ref = await review.show_file(run.run_id, run.integration_ref, "app/schema.py")
        for commit, path, why in (
            ("--output=/tmp/x", "app/models.py", "not a commit"),
            (run.base, "../outside.txt", "not a path inside"),
            (run.base, "/etc/passwd", "not a path inside"),
            ("0" * 40, "app/models.py", "no such commit"),
        ):
            with pytest.raises(RunRefused, match=why):
                await review.show_file(run.run_id, commit, path)
    assert base.text == MODELS and base.exists and not base.binary
    assert tip.text == BACKEND["app/models.py"]
    assert not added.exists and added.text == ""
    assert binary.binary and binary.text == ""
    assert by_ref.text == "SCHEMA = 1\n"

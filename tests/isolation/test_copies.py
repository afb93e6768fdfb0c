"""Working copies: real git working copies of the start tree (overlay and full worktree alike),
snapshots of everything an agent changed, states on no branch, snapshots merged into a start."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from counterpoint.engine.isolation import Repo, RunRefs, WorkingCopies, agent_env, capture_base, open_repo

from tests.isolation.conftest import disk_files, mounted_under, registered_worktrees, tree_files
from tests.support.git import git

RUN = "20260102-090000-c0ffee"
BINARY = bytes(range(256)) * 64
FILES: dict[str, str | bytes] = {
    ".gitignore": "build/\n*.log\n",
    "app/main.py": "".join(f"line {n}\n" for n in range(1, 41)),
    "app/util.py": "def util():\n    return 1\n",
    "docs/guide.md": "# Guide\n",
    "assets/logo.bin": BINARY,
    "old/name.txt": "to be renamed\n",
    "deleted.txt": "to be deleted\n",
}


@pytest.fixture(params=["overlay", "worktree"])
def method(request: pytest.FixtureRequest, overlay_ok: bool) -> str:
    return str(request.param)


@pytest.fixture
async def setup(
    repo_factory: Callable[..., Path], method: str
) -> AsyncIterator[tuple[Repo, WorkingCopies, str]]:
    path = repo_factory(FILES)
    repo = await open_repo(path)
    refs = RunRefs(RUN)
    base = await capture_base(repo, refs)
    copies = WorkingCopies(repo, refs, path / ".counterpoint", method=method)
    yield repo, copies, base
    await copies.close()


def porcelain(copy: Path) -> str:
    return git(copy, "status", "--porcelain", "--untracked-files=all")


def commit_on(repo: Path, parent: str, files: dict[str, str | bytes | None], message: str) -> str:
    """A commit on top of ``parent`` with ``files`` written (None: deleted), made in a scratch worktree."""
    scratch = repo.parent / f"scratch-{message}"
    git(repo, "worktree", "add", "-q", "--detach", str(scratch), parent)
    for rel, content in files.items():
        target = scratch / rel
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(scratch, "add", "-A")
    git(scratch, "commit", "-qm", message)
    commit = git(scratch, "rev-parse", "HEAD").strip()
    git(repo, "worktree", "remove", "--force", str(scratch))
    return commit


async def test_a_copy_is_a_clean_working_copy_of_its_start(
    setup: tuple[Repo, WorkingCopies, str], method: str
) -> None:
    repo, copies, base = setup
    copy = await copies.create("backend", base)
    assert copy.method == method
    assert copy.path == copies.folder / "backend" and copy.path.is_dir()
    assert copy.start_commit == copy.last_snapshot == base
    assert porcelain(copy.path) == ""
    assert disk_files(copy.path) == tree_files(repo.toplevel, base)
    assert git(copy.path, "rev-parse", "HEAD").strip() == base
    assert git(repo.toplevel, "rev-parse", copies.refs.agent("backend")).strip() == base
    assert str(copy.path) in registered_worktrees(repo.toplevel)
    # the agent's git works there: it may commit on its own, our branch does not move
    (copy.path / "app" / "util.py").write_text("def util():\n    return 2\n")
    git(copy.path, "commit", "-qam", "agent commit")
    assert git(repo.toplevel, "rev-parse", copies.refs.agent("backend")).strip() == base
    assert porcelain(repo.toplevel) == "?? .counterpoint/\n" or porcelain(repo.toplevel) == ""


async def test_a_copy_started_ahead_of_the_base(setup: tuple[Repo, WorkingCopies, str]) -> None:
    repo, copies, base = setup
    await copies.prepare()
    ahead = commit_on(
        repo.toplevel,
        base,
        {"app/util.py": "changed\n", "new/file.txt": "new\n", "deleted.txt": None},
        "ahead",
    )
    copy = await copies.create("frontend", ahead)
    assert porcelain(copy.path) == ""
    assert disk_files(copy.path) == tree_files(repo.toplevel, ahead)
    assert git(copy.path, "diff", "--stat", ahead) == ""


async def test_snapshot_commits_every_change_but_ignored_files(
    setup: tuple[Repo, WorkingCopies, str],
) -> None:
    repo, copies, base = setup
    copy = await copies.create("backend", base)
    index = copy.admin_dir / "index" if copy.admin_dir else None
    assert index is not None
    index_before = index.read_bytes()
    root = copy.path
    (root / "app" / "main.py").write_text("changed\n")
    (root / "app" / "new.py").write_text("new\n")
    (root / "deleted.txt").unlink()
    os.rename(root / "old", root / "renamed")  # a folder that came from the shared checkout
    (root / "assets" / "logo.bin").write_bytes(BINARY[::-1])
    (root / "assets" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (root / "build").mkdir()
    (root / "build" / "out.o").write_bytes(b"\0\1")
    (root / "debug.log").write_text("ignored\n")
    (root / ".counterpoint").mkdir()
    (root / ".counterpoint" / "junit.xml").write_text("<x/>")

    snap = await copies.snapshot(copy, "backend: schema_ready")
    assert snap is not None
    files = tree_files(repo.toplevel, snap.commit)
    expected = disk_files(root, skip=(".git", "build", ".counterpoint", "debug.log"))
    assert files == expected
    assert "renamed/name.txt" in files and "old/name.txt" not in files and "deleted.txt" not in files
    assert sorted(snap.files) == sorted(
        [
            "app/main.py",
            "app/new.py",
            "deleted.txt",
            "old/name.txt",
            "renamed/name.txt",
            "assets/logo.bin",
            "assets/big.bin",
        ]
    )
    assert git(repo.toplevel, "rev-parse", copy.branch).strip() == snap.commit == copy.last_snapshot
    assert git(repo.toplevel, "rev-parse", f"{snap.commit}^").strip() == base
    # the agent's own git view did not move: its index and HEAD are as they were
    assert index.read_bytes() == index_before
    assert git(root, "rev-parse", "HEAD").strip() == base
    assert await copies.snapshot(copy, "nothing new") is None
    (root / "app" / "util.py").write_text("second\n")
    second = await copies.snapshot(copy, "again")
    assert second is not None and second.files == ["app/util.py"]
    assert git(repo.toplevel, "rev-parse", f"{second.commit}^").strip() == snap.commit


async def test_state_is_on_no_branch_and_reused_while_nothing_changes(
    setup: tuple[Repo, WorkingCopies, str],
) -> None:
    repo, copies, base = setup
    copy = await copies.create("backend", base)
    assert await copies.state(copy) == base
    (copy.path / "docs" / "guide.md").write_text("# Guide, edited\n")
    refs_before = git(repo.toplevel, "for-each-ref")
    state = await copies.state(copy)
    assert state != base
    assert await copies.state(copy) == state
    assert git(repo.toplevel, "for-each-ref") == refs_before
    assert tree_files(repo.toplevel, state)["docs/guide.md"] == b"# Guide, edited\n"
    assert porcelain(copy.path) == " M docs/guide.md\n"


async def test_start_commit_merges_snapshots_in_order(setup: tuple[Repo, WorkingCopies, str]) -> None:
    repo, copies, base = setup
    one = await copies.create("schema", base)
    two = await copies.create("api", base)
    three = await copies.create("clash", base)
    for copy, line, text in (
        (one, "line 2\n", "ONE\n"),
        (two, "line 30\n", "TWO\n"),
        (three, "line 2\n", "THREE\n"),
    ):
        main = copy.path / "app" / "main.py"
        main.write_text(main.read_text().replace(line, text))
    snaps = [await copies.snapshot(c, f"{c.agent}: ready") for c in (one, two, three)]
    assert all(snaps)
    pairs = [(c.agent, s.commit) for c, s in zip((one, two, three), snaps, strict=True) if s]
    start = await copies.start_commit(base, pairs)
    assert start.merged == ["schema", "api"]
    assert [f.path for f in start.conflicts] == ["app/main.py"]
    assert [side.agent for side in start.conflicts[0].sides] == ["integration", "clash"]
    text = tree_files(repo.toplevel, start.commit)["app/main.py"].decode()
    assert "ONE\n" in text and "TWO\n" in text and "THREE\n" not in text
    parents = git(repo.toplevel, "rev-list", "--parents", "-n1", start.commit).split()
    assert len(parents) == 3  # the merge of "api" into the fast-forwarded "schema"
    dependent = await copies.create("dependent", start.commit)
    assert disk_files(dependent.path) == tree_files(repo.toplevel, start.commit)
    assert porcelain(dependent.path) == ""


async def test_remove_and_close_leave_nothing(setup: tuple[Repo, WorkingCopies, str]) -> None:
    repo, copies, base = setup
    first = await copies.create("first", base)
    second = await copies.create("second", base)
    kept = await copies.create("kept", base)
    await copies.remove(first)
    assert not first.path.exists()
    assert str(first.path) not in registered_worktrees(repo.toplevel)
    assert first.path not in mounted_under(copies.folder)
    assert git(repo.toplevel, "rev-parse", first.branch).strip() == base  # the branch is kept
    await copies.close(keep=["kept"])
    assert not second.path.exists() and kept.path.exists()
    assert porcelain(kept.path) == ""
    assert registered_worktrees(repo.toplevel) == [str(kept.path)]
    await copies.close()
    assert not copies.folder.exists()
    assert registered_worktrees(repo.toplevel) == []
    assert mounted_under(repo.toplevel) == []
    assert sorted(p.name for p in (repo.toplevel / ".git" / "worktrees").glob("*")) == []


async def test_a_deleted_git_file_never_reaches_the_user_repository(
    setup: tuple[Repo, WorkingCopies, str],
) -> None:
    repo, copies, base = setup
    copy = await copies.create("careless", base)
    (copy.path / ".git").unlink()
    (copy.path / "docs" / "guide.md").write_text("still snapshotted\n")
    user_before = git(repo.toplevel, "--no-optional-locks", "status", "--porcelain")
    snap = await copies.snapshot(copy, "careless: done")
    assert snap is not None and snap.files == ["docs/guide.md"]
    assert git(repo.toplevel, "--no-optional-locks", "status", "--porcelain") == user_before
    env = {**os.environ, **agent_env(copy)}
    found = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=copy.path, env=env, capture_output=True, text=True
    )
    assert found.returncode != 0 and "not a git repository" in found.stderr
    await copies.close()
    assert registered_worktrees(repo.toplevel) == [] and not copies.folder.exists()


async def test_files_over_100_mb(setup: tuple[Repo, WorkingCopies, str]) -> None:
    repo, copies, base = setup
    copy = await copies.create("data", base)
    with (copy.path / "huge.bin").open("wb") as huge:
        huge.truncate(101 * 1024 * 1024)  # sparse: no 101 MB written on the test machine
        huge.seek(50 * 1024 * 1024)
        huge.write(b"middle")
    snap = await copies.snapshot(copy, "data: done")
    assert snap is not None and snap.files == ["huge.bin"]
    size = git(repo.toplevel, "cat-file", "-s", f"{snap.commit}:huge.bin").strip()
    assert int(size) == 101 * 1024 * 1024


async def test_the_users_hooks_do_not_run_on_our_checkouts(
    repo_factory: Callable[..., Path], method: str
) -> None:
    path = repo_factory({"a.txt": "a\n"})
    hook = path / ".git" / "hooks" / "post-checkout"
    ran = path.parent / "hook-ran"
    hook.write_text(f"#!/bin/sh\ntouch '{ran}'\nexit 1\n")
    hook.chmod(0o755)
    git(path, "worktree", "add", "-q", "--detach", str(path.parent / "plain"), check=False)
    assert ran.exists()  # the hook runs on a plain `git worktree add`
    ran.unlink()
    git(path, "worktree", "remove", "--force", str(path.parent / "plain"))
    repo = await open_repo(path)
    refs = RunRefs(RUN)
    copies = WorkingCopies(repo, refs, path / ".counterpoint", method=method)
    copy = await copies.create("a", await capture_base(repo, refs))
    assert porcelain(copy.path) == "" and not ran.exists()
    await copies.close()


async def test_submodules_stay_gitlinks(repo_factory: Callable[..., Path], method: str) -> None:
    library = repo_factory({"lib.py": "x = 1\n"}, name="library")
    path = repo_factory({"app.py": "import lib\n"})
    git(path, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/lib")
    git(path, "commit", "-qm", "vendor lib")
    repo = await open_repo(path)
    refs = RunRefs(RUN)
    copies = WorkingCopies(repo, refs, path / ".counterpoint", method=method)
    base = await capture_base(repo, refs)
    assert git(path, "ls-tree", base, "vendor/lib").split()[:2] == ["160000", "commit"]
    copy = await copies.create("a", base)
    assert porcelain(copy.path) == ""
    assert (copy.path / "vendor" / "lib").is_dir()  # present, not populated (documented)
    (copy.path / "app.py").write_text("import lib  # edited\n")
    snap = await copies.snapshot(copy, "a: done")
    assert snap is not None and snap.files == ["app.py"]
    assert git(path, "ls-tree", snap.commit, "vendor/lib") == git(path, "ls-tree", base, "vendor/lib")
    await copies.close()


async def test_many_copies_made_at_once(setup: tuple[Repo, WorkingCopies, str]) -> None:
    repo, copies, base = setup
    made = await asyncio.gather(*(copies.create(f"agent{n}", base) for n in range(6)))
    assert len({c.path for c in made}) == 6
    for copy in made:
        assert porcelain(copy.path) == ""
        (copy.path / f"{copy.agent}.txt").write_text(copy.agent)
    snaps = await asyncio.gather(*(copies.snapshot(c, "done") for c in made))
    assert [s.files for s in snaps if s] == [[f"agent{n}.txt"] for n in range(6)]
    assert sorted(registered_worktrees(repo.toplevel)) == sorted(str(c.path) for c in made)

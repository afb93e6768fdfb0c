"""Copies that fail, are cancelled or outlive their process: nothing is left behind.

Disk full is real where this process may mount a small tmpfs (root), and simulated otherwise by
making a step fail midway; a crash is a child process killed with SIGKILL while its copy is
mounted, then `prune` at the next start."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.isolation import (
    IsolationError,
    Repo,
    RunRefs,
    WorkingCopies,
    capture_base,
    open_repo,
    prune,
)
from counterpoint.engine.isolation import checkouts as checkouts_module
from counterpoint.engine.isolation import copies as copies_module

from tests.isolation.conftest import mounted_under, registered_worktrees
from tests.support.git import git

RUN = "20260104-080000-dead00"
FILES: dict[str, str | bytes] = {f"src/file{n}.txt": f"content {n}\n" * 50 for n in range(40)}


async def start(
    repo_factory: Callable[..., Path], files: dict[str, str | bytes] = FILES
) -> tuple[Repo, RunRefs, str]:
    path = repo_factory(files)
    repo = await open_repo(path)
    refs = RunRefs(RUN)
    return repo, refs, await capture_base(repo, refs)


def nothing_left(repo: Repo, copies: WorkingCopies, agent: str) -> None:
    """No copy of ``agent``: no folder, layer, private index, mount, registration or branch."""
    assert not copies.path_of(agent).exists()
    assert not (copies.folder / ".layers" / agent).exists()
    assert not (copies.folder / ".index" / agent).exists()
    assert mounted_under(copies.folder) == []
    assert registered_worktrees(repo.toplevel) == []
    assert not list((repo.git_dir / "worktrees").glob("*"))
    assert git(repo.toplevel, "for-each-ref", copies.refs.agent(agent)) == ""


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real full disk (root only)."""
    disk = tmp_path / "tiny"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
    )
    assert done.returncode == 0, f"mounting a tmpfs (root only, as CI runs) failed: {done.stderr!r}"
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("method", ["auto", "worktree"])
async def test_a_full_disk_fails_the_copy_and_leaves_nothing(
    repo_factory: Callable[..., Path], tiny_disk: Path, method: str
) -> None:
    big = {f"src/file{n}.txt": os.urandom(16 * 1024).hex() for n in range(40)}  # 1.25 MB of text
    repo, refs, base = await start(repo_factory, big)
    copies = WorkingCopies(repo, refs, tiny_disk / ".counterpoint", method=method)
    with pytest.raises(IsolationError, match=r"could not make the working copy of backend: .*disk is full"):
        await copies.create("backend", base)
    nothing_left(repo, copies, "backend")
    assert not (copies.folder / ".base").exists()
    await copies.close()
    assert not copies.folder.exists()


async def test_a_failure_after_the_mount_leaves_nothing(
    repo_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, overlay_ok: bool
) -> None:
    repo, refs, base = await start(repo_factory)
    ahead = git(
        repo.toplevel,
        "commit-tree",
        "-p",
        base,
        "-m",
        "ahead",
        git(repo.toplevel, "rev-parse", "HEAD~0^{tree}").strip(),
    ).strip()
    real = checkouts_module.run_git

    def failing(cwd: Path, args: tuple[str, ...], *rest: Any, **options: Any) -> Any:
        if "read-tree" in args and "-m" in args:
            raise OSError(errno.ENOSPC, "No space left on device", str(cwd))
        return real(cwd, args, *rest, **options)

    monkeypatch.setattr(checkouts_module, "run_git", failing)
    copies = WorkingCopies(repo, refs, repo.toplevel / ".counterpoint")
    git(repo.toplevel, "branch", "-q", "counterpoint/" + RUN + "/agents/backend", base)
    with pytest.raises(IsolationError, match="disk is full"):
        await copies.create("backend", ahead)
    assert not copies.path_of("backend").exists()
    assert mounted_under(copies.folder) == []
    assert registered_worktrees(repo.toplevel) == []
    # a branch that was there before (a resumed run) is put back where it was
    assert git(repo.toplevel, "rev-parse", refs.agent("backend")).strip() == base
    await copies.close()
    assert not copies.folder.exists()


async def test_a_refused_mount_falls_back_to_a_full_worktree(
    repo_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, refs, base = await start(repo_factory)

    def refused(*_args: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(checkouts_module, "mount_overlay", refused)
    monkeypatch.setattr(copies_module, "_refused", [])
    copies = WorkingCopies(repo, refs, repo.toplevel / ".counterpoint")
    copy = await copies.create("backend", base)
    assert copy.method == "worktree"
    assert copies.overlay_problem is not None and "Operation not permitted" in copies.overlay_problem
    assert git(copy.path, "status", "--porcelain") == ""
    second = await copies.create("frontend", base)
    assert second.method == "worktree"
    await copies.close()
    assert registered_worktrees(repo.toplevel) == [] and not copies.folder.exists()


async def test_a_cancelled_create_is_undone(repo_factory: Callable[..., Path]) -> None:
    repo, refs, base = await start(repo_factory)
    copies = WorkingCopies(repo, refs, repo.toplevel / ".counterpoint")
    task = asyncio.ensure_future(copies.create("backend", base))
    await asyncio.sleep(0)  # the create has begun
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await copies.close()
    nothing_left(repo, copies, "backend")
    assert not copies.folder.exists()


CHILD = """
import asyncio, json, sys
from pathlib import Path
from counterpoint.engine.isolation import RunRefs, WorkingCopies, capture_base, open_repo

async def main() -> None:
    root = Path(sys.argv[1])
    repo = await open_repo(root)
    refs = RunRefs(sys.argv[2])
    base = await capture_base(repo, refs)
    copies = WorkingCopies(repo, refs, root / ".counterpoint")
    copy = await copies.create("victim", base)
    (copy.path / "unsaved.txt").write_text("work in progress\\n")
    print(json.dumps({"path": str(copy.path), "method": copy.method}), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_prune_after_a_killed_process(repo_factory: Callable[..., Path]) -> None:
    repo, _, _ = await start(repo_factory)
    live_refs = RunRefs("20260104-090000-a11ve0")
    live = WorkingCopies(repo, live_refs, repo.toplevel / ".counterpoint")
    live_copy = await live.create("survivor", await capture_base(repo, live_refs))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(repo.toplevel), RUN], stdout=subprocess.PIPE, text=True, cwd="/"
    )
    assert child.stdout is not None
    made = json.loads(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    dead = Path(made["path"])
    assert (dead / "unsaved.txt").exists()
    assert str(dead) in registered_worktrees(repo.toplevel)
    if made["method"] == "overlay":
        assert dead in mounted_under(repo.toplevel)

    removed = await prune(repo.toplevel, [live_refs.run_id])

    assert str(dead.parent) in removed
    assert not dead.parent.exists()
    assert mounted_under(dead.parent) == []
    assert registered_worktrees(repo.toplevel) == [str(live_copy.path)]
    assert git(live_copy.path, "status", "--porcelain") == ""
    assert git(repo.toplevel, "rev-parse", RunRefs(RUN).agent("victim")).strip()  # the branch stays
    assert await prune(repo.toplevel, [live_refs.run_id]) == []
    await live.close()
    assert await prune(repo.toplevel, []) == []
    assert registered_worktrees(repo.toplevel) == []


async def test_prune_never_raises_outside_git(tmp_path: Path) -> None:
    assert await prune(tmp_path, []) == []
    stale = tmp_path / ".counterpoint" / "worktrees" / RUN / "agent"
    stale.mkdir(parents=True)
    assert await prune(tmp_path, []) == [str(stale.parent)]
    assert not stale.parent.exists()


async def test_copies_kept_on_purpose_survive_prune_and_a_reboot(repo_factory: Callable[..., Path]) -> None:
    repo, refs, base = await start(repo_factory)
    copies = WorkingCopies(repo, refs, repo.toplevel / ".counterpoint")
    failed = await copies.create("failed", base)
    done = await copies.create("done", base)
    (failed.path / "half-done.txt").write_text("look at me\n")
    await copies.close(keep=["failed"])
    assert not done.path.exists() and failed.path.exists()
    assert await prune(repo.toplevel, []) == []
    assert (failed.path / "half-done.txt").exists()
    if failed.method == "overlay":
        checkouts_module.unmount(failed.path)  # what a reboot does
        assert not (failed.path / "half-done.txt").exists()
        assert await prune(repo.toplevel, []) == []
        assert failed.path in mounted_under(copies.folder)
    assert (failed.path / "half-done.txt").read_text() == "look at me\n"
    assert git(failed.path, "status", "--porcelain") == "?? half-done.txt\n"
    assert registered_worktrees(repo.toplevel) == [str(failed.path)]
    assert await WorkingCopies(repo, refs, repo.toplevel / ".counterpoint").discard() == [failed.path]
    assert not copies.folder.exists()
    assert mounted_under(repo.toplevel) == [] and registered_worktrees(repo.toplevel) == []
    assert not list((repo.git_dir / "worktrees").glob("*"))

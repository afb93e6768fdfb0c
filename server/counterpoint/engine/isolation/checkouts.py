"""Working copies on disk: the run's shared checkout, an agent's overlay or worktree, removal. Blocking.

Layout of run ``<run>`` under ``.counterpoint/worktrees/<run>/``: ``.base/`` (the shared
checkout, the lower layer of every overlay, registered nowhere) and ``.base.index`` (its index),
``.layers/<agent>/{upper,work}``, ``.index/<agent>`` (the private index snapshots are made
with) and ``<agent>/`` (the agent's working copy, a registered git worktree with a detached HEAD).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from counterpoint.engine.isolation.gitcmd import QUIET_CONFIG, run_git
from counterpoint.engine.isolation.model import IsolationError, Repo
from counterpoint.engine.isolation.overlay import mount_overlay, mounts_under, unmount

CHECKOUT_WORKERS = ("-c", "checkout.workers=8", "-c", "checkout.thresholdForParallelism=100")
"""Writing thousands of files is bound by system calls: parallel checkout halves it even on two cores."""

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
KEPT = ".kept"
"""In a run's folder: the copies kept on purpose when the run closed (one agent folder a line)."""


class MountRefused(Exception):
    """The overlay could not be mounted (no right to mount, no overlayfs, an upper file system it
    refuses): a full worktree will do instead."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.errno = error.errno


def read_admin(path: Path) -> Path | None:
    """The git dir a worktree's ``.git`` file points at (``<git_dir>/worktrees/<name>``)."""
    try:
        text = (path / ".git").read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:") :].strip()
    return Path(os.path.realpath(target if os.path.isabs(target) else path / target))


def prepare_folder(folder: Path) -> None:
    """The run's folder, and a ``.gitignore`` keeping every copy out of the user's ``git add``."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")


def checkout_lower(repo: Repo, commit: str, folder: Path, index: Path) -> None:
    """A full checkout of ``commit`` in ``folder`` with its index in ``index`` (no worktree
    registered: it is only ever read, through the overlays)."""
    remove_tree(folder)
    index.unlink(missing_ok=True)
    try:
        folder.mkdir(parents=True)
        args = (
            *QUIET_CONFIG,
            *CHECKOUT_WORKERS,
            f"--work-tree={folder}",
            "read-tree",
            "-u",
            "--reset",
            commit,
        )
        env = {"GIT_INDEX_FILE": os.fspath(index)}
        run_git(repo.toplevel, args, env)
        # the index keeps its trees (cache-tree) from here on: every copy's first snapshot and
        # state reuse them instead of hashing every folder again
        run_git(repo.toplevel, (*QUIET_CONFIG, f"--work-tree={folder}", "write-tree"), env)
    except BaseException:
        remove_tree(folder)
        index.unlink(missing_ok=True)
        raise


_WORKTREES_LOCK = threading.Lock()


@contextlib.contextmanager
def worktrees_locked(repo: Repo) -> Iterator[None]:
    """One ``git worktree add``/``remove`` at a time on a repository: git reads every other
    worktree's entry while it adds one, and fails on an entry another add is still writing
    (``failed to read .../commondir``). A lock in this process, and an ``flock`` in the git dir
    for other processes (the CLI and a language server on one repository)."""
    with _WORKTREES_LOCK, open(repo.git_dir / "counterpoint-worktrees.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def add_worktree(repo: Repo, path: Path, start: str, checkout: bool) -> Path:
    """``git worktree add --detach --no-checkout`` (registered under the worktrees lock), then,
    with ``checkout``, its files written (outside the lock: the slow part); returns its git dir."""
    args = (*QUIET_CONFIG, "worktree", "add", "--force", "--detach", "--no-checkout", os.fspath(path), start)
    with worktrees_locked(repo):
        run_git(repo.toplevel, args)
    admin = read_admin(path)
    if admin is None:
        raise IsolationError(f"git made no worktree at {path}")
    if checkout:
        run_git(path, (*QUIET_CONFIG, *CHECKOUT_WORKERS, "reset", "--hard", "-q", start))
    return admin


def overlay_copy(
    repo: Repo, lower: Path, lower_index: Path, lower_commit: str, layer: Path, path: Path, start: str
) -> Path:
    """A worktree at ``path`` registered without a checkout, an overlay of ``layer`` over the
    shared checkout ``lower`` mounted on it, the shared checkout's index as its index (the stat
    data holds: overlayfs passes inode numbers through), then moved to ``start`` (only the files
    that differ are written). Returns the worktree's git dir; `MountRefused` when the mount is."""
    upper, work = layer / "upper", layer / "work"
    upper.mkdir(parents=True)
    work.mkdir()
    admin = add_worktree(repo, path, start, checkout=False)
    shutil.copyfile(path / ".git", upper / ".git")
    try:
        mount_overlay(lower, upper, work, path)
    except OSError as error:
        if error.errno in DISK_FULL:
            raise
        raise MountRefused(error) from error
    shutil.copyfile(lower_index, admin / "index")
    if start != lower_commit:
        run_git(path, (*QUIET_CONFIG, "read-tree", "-m", "-u", lower_commit, start))
    return admin


def remove_copy(repo: Repo, path: Path, admin: Path | None, layer: Path, index: Path) -> None:
    """The working copy at ``path`` gone: unmounted (lazily if busy), its worktree removed, its
    layers and private index deleted. Its branch is kept."""
    for point in mounts_under(path):
        unmount(point)
    admin = admin or read_admin(path)
    if admin is not None and admin.is_dir():
        with worktrees_locked(repo):
            run_git(repo.toplevel, ("worktree", "remove", "--force", "--force", os.fspath(path)), check=False)
    remove_tree(path)
    if admin is not None and admin.parent.name == "worktrees" and admin.is_dir():
        remove_tree(admin)
    remove_tree(layer)
    index.unlink(missing_ok=True)


def _retry_writable(function: Callable[..., object], path: str, _error: object) -> None:
    """rmtree's error handler: make the folder writable and try once more (overlay work dirs)."""
    try:
        os.chmod(os.path.dirname(path), stat.S_IRWXU)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
        function(path)
    except OSError:
        pass


def remove_tree(path: Path) -> None:
    """Delete ``path`` (file or folder) without crossing into anything mounted below it: those
    are unmounted first."""
    for point in mounts_under(path):
        try:
            unmount(point)
        except OSError:
            pass
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, onerror=_retry_writable)

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
import time
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


LOWER_CACHE = ".lower"
"""Under ``.counterpoint/worktrees/``: the last run's shared checkout, kept for the next run
(``.lower/``, ``.lower.index``, ``.lower.commit``). A run takes it by renaming it into its own
folder (so two live runs never share one) and moves it to its base with ``read-tree -m -u``:
only the files that differ are written, not the whole tree again."""


def take_lower(repo: Repo, commit: str, folder: Path, index: Path) -> bool:
    """The cached checkout moved to ``folder`` and brought to ``commit``; False if there is none
    (or it could not be used: then it is gone, and a full checkout is made)."""
    cache = folder.parent.parent / LOWER_CACHE
    cache_index, cache_commit = (
        cache.with_name(LOWER_CACHE + ".index"),
        cache.with_name(LOWER_CACHE + ".commit"),
    )
    try:
        old = cache_commit.read_text(encoding="utf-8").strip()
        cache.rename(folder)  # atomic: of two runs starting at once, one gets it
    except OSError:
        return False
    try:
        cache_index.rename(index)
        cache_commit.unlink(missing_ok=True)
        env = {"GIT_INDEX_FILE": os.fspath(index)}
        work = f"--work-tree={folder}"
        run_git(
            repo.toplevel, (*QUIET_CONFIG, *CHECKOUT_WORKERS, work, "read-tree", "-m", "-u", old, commit), env
        )
        run_git(repo.toplevel, (*QUIET_CONFIG, work, "write-tree"), env)
        return True
    except (OSError, IsolationError):
        remove_tree(folder)
        index.unlink(missing_ok=True)
        return False


def keep_lower(folder: Path, index: Path, commit: str | None) -> bool:
    """Give the run's shared checkout back as the cache (when there is none); False if not."""
    cache = folder.parent.parent / LOWER_CACHE
    if commit is None or not folder.is_dir() or not index.is_file() or mounts_under(folder) or cache.exists():
        return False
    try:
        index.rename(cache.with_name(LOWER_CACHE + ".index"))
        folder.rename(cache)
        cache.with_name(LOWER_CACHE + ".commit").write_text(commit + "\n", encoding="utf-8")
        return True
    except OSError:
        return False


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


TRASH = ".trash"
"""Under ``.counterpoint/worktrees/``: folders on their way out (deleted by a background thread;
what a process that ended first left, `prune` deletes)."""


def remove_later(path: Path) -> None:
    """Move the (unmounted) folder ``path`` aside at once and delete it on a thread of its own:
    a 10,000-file checkout takes the disk a second to delete, and nobody needs to wait for it."""
    if not path.is_dir() or mounts_under(path):
        remove_tree(path)
        return
    trash = path.parent.parent / TRASH if path.parent.name != "worktrees" else path.parent / TRASH
    trash.mkdir(exist_ok=True)
    target = trash / f"{path.name}-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        path.rename(target)
    except OSError:
        remove_tree(path)
        return
    thread = threading.Thread(target=remove_tree, args=(target,), name="counterpoint-trash", daemon=True)
    _TRASH_THREADS.append(thread)
    thread.start()


_TRASH_THREADS: list[threading.Thread] = []


def wait_for_trash(timeout: float = 60.0) -> None:
    """Block until the folders moved aside are deleted (an engine's end: nothing left behind)."""
    while _TRASH_THREADS:
        _TRASH_THREADS.pop().join(timeout)


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

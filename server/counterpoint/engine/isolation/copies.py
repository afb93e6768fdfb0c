"""The working copies of one run: made when an agent becomes ready, snapshotted, removed.

A copy is a real git worktree (an agent running git there works) with a detached HEAD at its
start commit, so the agent's own view never moves; its snapshots go on its branch
(``refs.agent(agent)``), committed from a private index so the agent's index is never written.
The fast way to make one is an overlay over the run's one shared checkout (made once, at the
first copy or at `prepare`); where mounting is refused, a plain ``git worktree add``.
``COUNTERPOINT_ISOLATION_METHOD=worktree`` (or ``method="worktree"``) forces the plain way.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import time
from collections.abc import Collection, Sequence
from pathlib import Path

from counterpoint.engine.isolation.checkouts import (
    DISK_FULL,
    KEPT,
    MountRefused,
    add_worktree,
    checkout_lower,
    keep_lower,
    overlay_copy,
    prepare_folder,
    read_admin,
    remove_copy,
    remove_later,
    remove_tree,
    take_lower,
)
from counterpoint.engine.isolation.gitcmd import PRIVATE_INDEX, git, in_thread
from counterpoint.engine.isolation.merging import merge_in
from counterpoint.engine.isolation.model import (
    GitError,
    IsolationError,
    Repo,
    Snapshot,
    StartPoint,
    WorkingCopy,
)
from counterpoint.engine.isolation.refs import RunRefs, ref_component
from counterpoint.engine.isolation.repo import add_all, commit_tree, delete_ref, resolve, tree_of, update_ref

log = logging.getLogger(__name__)

METHOD_ENV = "COUNTERPOINT_ISOLATION_METHOD"
METHODS = ("auto", "overlay", "worktree")
_refused: list[str] = []
"""Why this process may not mount overlays at all (found once: no right to mount, no overlayfs)."""


class WorkingCopies:
    """The working copies of run ``refs.run_id``, under ``state_dir/worktrees/<run>/``."""

    def __init__(self, repo: Repo, refs: RunRefs, state_dir: Path, *, method: str | None = None) -> None:
        chosen = method or os.environ.get(METHOD_ENV) or "auto"
        if chosen not in METHODS:
            raise ValueError(f"isolation method {chosen!r}: one of {', '.join(METHODS)}")
        self.repo = repo
        self.refs = refs
        self.folder = Path(state_dir) / "worktrees" / refs.run_id
        self.method = chosen
        self.overlay_problem: str | None = None
        """Why copies are full worktrees rather than overlays (None while overlays work)."""
        self._lower = self.folder / ".base"
        self._lower_index = self.folder / ".base.index"
        self._lower_commit: str | None = None
        self._lower_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._copies: dict[str, WorkingCopy] = {}
        self._late: set[asyncio.Task[None]] = set()
        self._creating: set[asyncio.Task[WorkingCopy]] = set()
        self._branch_before: dict[str, str | None] = {}

    @property
    def copies(self) -> dict[str, WorkingCopy]:
        """The live copies, by agent."""
        return dict(self._copies)

    def path_of(self, agent: str) -> Path:
        return self.folder / ref_component(agent)

    def _layer(self, agent: str) -> Path:
        return self.folder / ".layers" / ref_component(agent)

    def _index(self, agent: str) -> Path:
        return self.folder / ".index" / ref_component(agent)

    def _lock(self, agent: str) -> asyncio.Lock:
        return self._locks.setdefault(agent, asyncio.Lock())

    def _overlay_allowed(self) -> bool:
        return self.method != "worktree" and self.overlay_problem is None and not _refused

    async def prepare(self, commit: str | None = None) -> None:
        """Make the shared checkout now (else the first copy makes it): of ``commit``, or of the
        run's base. Nothing when copies will be full worktrees."""
        if self._overlay_allowed():
            await self._ensure_lower(commit)

    async def _ensure_lower(self, fallback: str | None) -> str:
        async with self._lower_lock:
            if self._lower_commit is None:
                commit = await resolve(self.repo, self.refs.base) or fallback
                if commit is None:
                    raise IsolationError(f"run {self.refs.run_id} has no base commit: capture it first")
                await in_thread(prepare_folder, self.folder)
                if not await in_thread(take_lower, self.repo, commit, self._lower, self._lower_index):
                    await in_thread(checkout_lower, self.repo, commit, self._lower, self._lower_index)
                await in_thread((self.folder / ".base.commit").write_text, commit + "\n", "utf-8")
                self._lower_commit = commit
            return self._lower_commit

    async def start_commit(
        self, tip: str, snapshots: Sequence[tuple[str, str]], tip_label: str = "integration"
    ) -> StartPoint:
        """``tip`` with the ``(label, commit)`` snapshots merged in, in order (see `merge_in`)."""
        return await merge_in(self.repo, tip, snapshots, tip_label)

    async def create(self, agent: str, start: str) -> WorkingCopy:
        """``agent``'s branch set to ``start`` and a working copy of it. `IsolationError` (disk
        full...) with nothing left behind; a cancelled create finishes, then is undone."""
        task = asyncio.ensure_future(self._create(agent, start))
        self._creating.add(task)
        task.add_done_callback(self._creating.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._discard_late)
            raise

    def _discard_late(self, task: asyncio.Task[WorkingCopy]) -> None:
        """A copy made for a caller that was cancelled meanwhile: removed, its branch as before."""
        if task.cancelled() or task.exception() is not None:
            return
        copy = task.result()
        self._copies.pop(copy.agent, None)
        undo = self._undo(
            copy.path, self._layer(copy.agent), self._index(copy.agent), copy.branch, copy.agent
        )
        late = asyncio.ensure_future(undo)
        self._late.add(late)
        late.add_done_callback(self._late.discard)

    async def _create(self, agent: str, start: str) -> WorkingCopy:
        async with self._lock(agent):
            started = time.perf_counter()
            if agent in self._copies:
                raise IsolationError(f"{agent} already has a working copy at {self._copies[agent].path}")
            commit = await resolve(self.repo, start)
            if commit is None:
                raise IsolationError(f"cannot start {agent} at {start}: no such commit")
            path, layer, index = self.path_of(agent), self._layer(agent), self._index(agent)
            branch = self.refs.agent(agent)
            await in_thread(_clear_leftovers, self.repo, self.folder, path, layer, index)
            self._branch_before[agent] = await resolve(self.repo, branch)
            try:
                await update_ref(self.repo, branch, commit)
                method, admin = await self._make(path, layer, index, commit)
                await in_thread(_copy_file, admin / "index", index)
                tree = await tree_of(self.repo, commit)
            except BaseException as error:
                full = await in_thread(_disk_full, self.folder)
                await asyncio.shield(asyncio.ensure_future(self._undo(path, layer, index, branch, agent)))
                if isinstance(error, Exception):
                    raise IsolationError(
                        f"could not make the working copy of {agent}: {_reason(error, full)}"
                    ) from error
                raise
            seconds = round(time.perf_counter() - started, 4)
            copy = WorkingCopy(agent, path, branch, commit, method, seconds, commit, admin, tree)
            self._copies[agent] = copy
            return copy

    async def _make(self, path: Path, layer: Path, index: Path, start: str) -> tuple[str, Path]:
        if self._overlay_allowed():
            lower = await self._ensure_lower(start)
            try:
                admin = await in_thread(
                    overlay_copy, self.repo, self._lower, self._lower_index, lower, layer, path, start
                )
                return "overlay", admin
            except MountRefused as refused:
                await in_thread(remove_copy, self.repo, path, None, layer, index)
                if self.method == "overlay":
                    raise IsolationError(f"overlay mount refused: {refused}") from refused
                self.overlay_problem = f"overlay mount refused ({refused}): full worktrees instead"
                if refused.errno is not None and refused.errno in _PROCESS_WIDE:
                    _refused.append(self.overlay_problem)
                log.info("isolation: %s", self.overlay_problem)
        await in_thread(prepare_folder, self.folder)
        return "worktree", await in_thread(add_worktree, self.repo, path, start, True)

    async def _undo(self, path: Path, layer: Path, index: Path, branch: str, agent: str) -> None:
        """A copy being made taken away: its folders, and its branch as it was before."""
        await in_thread(remove_copy, self.repo, path, None, layer, index)
        await in_thread(_remove_if_empty, self.folder)
        previous = self._branch_before.pop(agent, None)
        if previous is None:
            await delete_ref(self.repo, branch)
        else:
            await update_ref(self.repo, branch, previous)

    async def _tree(self, copy: WorkingCopy) -> str:
        """The tree of everything in the copy now (ignored files and ``.counterpoint/`` left out)."""
        admin = copy.admin_dir or await in_thread(read_admin, copy.path)
        if admin is None:
            raise IsolationError(f"the working copy of {copy.agent} at {copy.path} has lost its git dir")
        # git named explicitly: with the copy's .git file deleted, git would find the user's
        # repository (the copy is inside their working tree)
        env = {
            "GIT_INDEX_FILE": os.fspath(self._index(copy.agent)),
            "GIT_DIR": os.fspath(admin),
            "GIT_WORK_TREE": os.fspath(copy.path),
        }
        for attempt in range(3):
            try:
                await in_thread(add_all, self.repo, copy.path, env)
                break
            except GitError as error:
                # A file the agent wrote through a temporary name and renamed while git listed
                # the folder: gone by the time git stats it. Look again.
                if attempt == 2 or "unable to stat" not in error.stderr:
                    raise
        return (await git(copy.path, *PRIVATE_INDEX, "write-tree", env=env)).stdout.strip()

    async def move(self, copy: WorkingCopy, start: str) -> WorkingCopy:
        """A copy made ahead of time (nothing written in it yet) moved to ``start``: only the
        files that differ are written (``read-tree -m -u``); its HEAD, branch and index follow."""
        async with self._lock(copy.agent):
            commit = await resolve(self.repo, start)
            if commit is None:
                raise IsolationError(f"cannot move {copy.agent} to {start}: no such commit")
            if commit == copy.start_commit:
                return copy
            started = time.perf_counter()
            admin = copy.admin_dir or await in_thread(read_admin, copy.path)
            if admin is None:
                raise IsolationError(f"the working copy of {copy.agent} at {copy.path} has lost its git dir")
            env = {"GIT_DIR": os.fspath(admin), "GIT_WORK_TREE": os.fspath(copy.path)}
            await git(copy.path, *PRIVATE_INDEX, "read-tree", "-m", "-u", copy.start_commit, commit, env=env)
            await git(copy.path, "update-ref", "--no-deref", "HEAD", commit, env=env)
            await update_ref(self.repo, copy.branch, commit)
            await in_thread(_copy_file, admin / "index", self._index(copy.agent))
            copy.start_commit = copy.last_snapshot = commit
            copy.last_tree = await tree_of(self.repo, commit)
            copy.state_commit = copy.state_tree = ""
            copy.seconds = round(copy.seconds + time.perf_counter() - started, 4)
            return copy

    async def snapshot(self, copy: WorkingCopy, message: str) -> Snapshot | None:
        """Commit everything in the copy on its branch (parent: the last snapshot); None when
        nothing changed since. The agent's own index and HEAD are not touched."""
        async with self._lock(copy.agent):
            tree = await self._tree(copy)
            if tree == copy.last_tree:
                return None
            parent = copy.last_snapshot
            commit = await commit_tree(self.repo, tree, [parent], message)
            await update_ref(self.repo, copy.branch, commit, parent)
            out = await git(self.repo, "diff-tree", "-r", "-z", "--name-only", "--no-renames", parent, commit)
            copy.last_snapshot, copy.last_tree = commit, tree
            return Snapshot(commit=commit, files=[name for name in out.stdout.split("\0") if name])

    async def state(self, copy: WorkingCopy) -> str:
        """A commit of the copy as it is now, on no branch (for conflict prediction): the last
        snapshot or the last state when nothing changed since."""
        async with self._lock(copy.agent):
            tree = await self._tree(copy)
            if tree == copy.last_tree:
                return copy.last_snapshot
            if tree != copy.state_tree:
                message = f"Counterpoint: state of {copy.agent}"
                copy.state_commit, copy.state_tree = (
                    await commit_tree(self.repo, tree, [copy.last_snapshot], message),
                    tree,
                )
            return copy.state_commit

    async def remove(self, copy: WorkingCopy) -> None:
        """The copy gone (unmounted, its worktree removed, its folders deleted); its branch kept."""
        async with self._lock(copy.agent):
            layer, index = self._layer(copy.agent), self._index(copy.agent)
            await in_thread(remove_copy, self.repo, copy.path, copy.admin_dir, layer, index)
            if self._copies.get(copy.agent) is copy:
                del self._copies[copy.agent]

    async def close(self, keep: Collection[str] = ()) -> None:
        """Remove every copy of the run (those of earlier processes too) except the agents in
        ``keep``; the shared checkout and the run's folder go when no overlay is left."""
        if self._creating:
            await asyncio.gather(*self._creating, return_exceptions=True)
            await asyncio.sleep(0)  # the late undos of cancelled creates are scheduled
        if self._late:
            await asyncio.gather(*self._late, return_exceptions=True)
        doomed = [copy for agent, copy in list(self._copies.items()) if agent not in keep]
        await asyncio.gather(
            *(self.remove(copy) for copy in doomed)
        )  # the kernel tears overlays down in parallel
        kept = {ref_component(agent) for agent in keep}
        await in_thread(_sweep, self.repo, self.folder, kept)
        if not (self.folder / ".base").exists():
            self._lower_commit = None

    async def discard(self) -> list[Path]:
        """Every copy of the run removed (those of earlier processes too): the paths that were."""
        found = await in_thread(_copy_paths, self.folder)
        await self.close()
        return found


_PROCESS_WIDE = (errno.EPERM, errno.ENODEV, errno.ENOSYS)
"""Mount errors that hold for every copy this process would make."""


def _reason(error: BaseException, full: bool) -> str:
    said = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return f"the disk is full ({error.filename or error.strerror}): free some space"
    if full or "No space left on device" in said or "No space left on device" in getattr(error, "stderr", ""):
        return f"the disk is full: free some space ({said})"
    return said


def _disk_full(folder: Path) -> bool:
    """Whether the file system of ``folder`` has (almost) no room left: git's errors on a full
    disk often say only that a file could not be written."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        found = os.statvfs(probe)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 1024 * 1024


def _remove_if_empty(folder: Path) -> None:
    """The run's folder removed when no copy is in it (its hidden parts empty, no shared checkout)."""
    for part in (folder / ".layers", folder / ".index", folder):
        try:
            part.rmdir()
        except OSError:
            pass


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _clear_leftovers(repo: Repo, folder: Path, path: Path, layer: Path, index: Path) -> None:
    """What a crashed process of the same run left at this agent's places."""
    prepare_folder(folder)
    if path.exists() or layer.exists() or index.exists():
        remove_copy(repo, path, None, layer, index)


def _copy_paths(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(child for child in folder.iterdir() if not child.name.startswith(".") and child.is_dir())


def _sweep(repo: Repo, folder: Path, kept: set[str]) -> None:
    """Every copy in the run's folder but the kept ones removed; the rest when nothing is kept,
    else a ``.kept`` note naming them."""
    if not folder.is_dir():
        return
    names = {child.name for child in folder.iterdir() if not child.name.startswith(".")}
    for hidden in (".layers", ".index"):
        if (folder / hidden).is_dir():
            names.update(child.name for child in (folder / hidden).iterdir())
    for name in sorted(names - kept):
        child = folder / name
        remove_copy(repo, child, read_admin(child), folder / ".layers" / name, folder / ".index" / name)
    kept_here = sorted(kept & names)
    if not any((folder / ".layers" / name).exists() for name in kept_here):
        lower_commit = folder / ".base.commit"
        commit = lower_commit.read_text(encoding="utf-8").strip() if lower_commit.is_file() else None
        if not keep_lower(folder / ".base", folder / ".base.index", commit):  # the next run's start
            remove_later(folder / ".base")
        (folder / ".base.index").unlink(missing_ok=True)
    if not kept_here:
        remove_tree(folder)
        return
    # kept on purpose (failed agents, for the user to look at): `prune` leaves them
    (folder / KEPT).write_text("".join(f"{name}\n" for name in kept_here), encoding="utf-8")

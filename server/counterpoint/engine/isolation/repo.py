"""The user's repository: the pre-flight (`open_repo`), the run's base (`capture_base`), refs.

The base is the user's HEAD plus their uncommitted changes, as one commit whose parent is HEAD.
It is made with an index of our own (a copy of theirs, so unchanged files are not hashed again):
the user's index, working tree, branches and stash are never written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from counterpoint.engine.isolation.gitcmd import (
    IDENTITY,
    PRIVATE_INDEX,
    git,
    in_thread,
    last_line,
    require_version,
    run_git,
)
from counterpoint.engine.isolation.model import GitError, IsolationError, Repo
from counterpoint.engine.isolation.refs import RunRefs

_SHARED = "or set `isolation: shared`"

# (file or folder in the working tree's git dir, what is in progress, how to finish or abort it)
_IN_PROGRESS = (
    ("rebase-apply/applying", "a `git am`", "`git am --continue` or `git am --abort`"),
    ("rebase-merge", "a rebase", "`git rebase --continue` or `git rebase --abort`"),
    ("rebase-apply", "a rebase", "`git rebase --continue` or `git rebase --abort`"),
    ("MERGE_HEAD", "a merge", "commit it (`git commit`) or `git merge --abort`"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "`git cherry-pick --continue` or `git cherry-pick --abort`"),
    ("REVERT_HEAD", "a revert", "`git revert --continue` or `git revert --abort`"),
    ("BISECT_LOG", "a bisect", "end it with `git bisect reset`"),
)


async def open_repo(workspace_root: Path) -> Repo:
    """The repository ``workspace_root`` is in, checked: `IsolationError` naming the fix when git is
    missing or older than 2.38, the folder is not in a git working tree (or is a bare repository),
    or a merge, rebase, cherry-pick, revert or bisect is in progress."""
    return await in_thread(_open_repo, Path(workspace_root))


def _open_repo(workspace_root: Path) -> Repo:
    require_version()
    root = Path(os.path.realpath(workspace_root))
    if not root.is_dir():
        raise IsolationError(
            f"{root} is not a folder: isolated agents need the workspace in a git repository"
        )
    where = run_git(
        root,
        (
            "rev-parse",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--absolute-git-dir",
            "--git-common-dir",
        ),
        check=False,
    )
    lines = where.stdout.splitlines()
    if where.returncode != 0 or len(lines) < 4:
        if "not a git repository" in where.stderr:
            raise IsolationError(
                f"{root} is not in a git repository: run `git init` there (and commit), {_SHARED}"
            )
        if "dubious ownership" in where.stderr:
            raise IsolationError(
                f"git refuses {root} (owned by another user): "
                f"`git config --global --add safe.directory {root}`, {_SHARED}"
            )
        raise GitError(f"git cannot read the repository at {root}: {last_line(where.stderr)}")
    bare, inside, admin, common = lines[:4]
    if bare == "true":
        raise IsolationError(
            f"{root} is in a bare repository (no working tree): use a clone with one, {_SHARED}"
        )
    if inside != "true":
        raise IsolationError(
            f"{root} is inside a git dir, not a working tree: open the working tree, {_SHARED}"
        )
    worktree_git_dir = Path(os.path.realpath(admin))
    git_dir = Path(os.path.realpath(root / common))
    toplevel = Path(os.path.realpath(run_git(root, ("rev-parse", "--show-toplevel")).stdout.strip()))
    _refuse_in_progress(toplevel, worktree_git_dir)
    head = run_git(root, ("rev-parse", "-q", "--verify", "HEAD^{commit}"), check=False).stdout.strip() or None
    symbolic = run_git(root, ("symbolic-ref", "-q", "HEAD"), check=False).stdout.strip()
    branch = RunRefs.branch_name(symbolic) if symbolic else None
    rel = root.relative_to(toplevel).as_posix() if root != toplevel else ""
    return Repo(toplevel, git_dir, head, branch, "" if rel == "." else rel, worktree_git_dir)


def _refuse_in_progress(toplevel: Path, worktree_git_dir: Path) -> None:
    for name, what, fix in _IN_PROGRESS:
        if (worktree_git_dir / name).exists():
            raise IsolationError(
                f"{what} is in progress in {toplevel}: {fix}, then start the run again ({_SHARED})"
            )


async def capture_base(repo: Repo, refs: RunRefs) -> str:
    """The run's base commit (HEAD and the user's uncommitted changes: edits, deletions, untracked
    files not ignored; ``.counterpoint/`` left out), set as ``refs.base`` and ``refs.integration``."""
    commit = await in_thread(_capture_base, repo, refs)
    await update_ref(repo, refs.base, commit)
    await update_ref(repo, refs.integration, commit)
    return commit


def _capture_base(repo: Repo, refs: RunRefs) -> str:
    with tempfile.TemporaryDirectory(prefix="counterpoint-base-") as folder:
        index = Path(folder) / "index"
        if repo.index_file.is_file():
            shutil.copyfile(repo.index_file, index)
        env = {"GIT_INDEX_FILE": str(index), **IDENTITY}
        top = repo.toplevel
        add_all(repo, top, env)
        tree = run_git(top, (*PRIVATE_INDEX, "write-tree"), env).stdout.strip()
    parents = ("-p", repo.head) if repo.head else ()
    message = f"Counterpoint run {refs.run_id}: base (HEAD and uncommitted changes)"
    return run_git(
        top, ("commit-tree", "--no-gpg-sign", *parents, "-m", message, tree), IDENTITY
    ).stdout.strip()


def add_all(repo: Repo, cwd: Path, env: dict[str, str]) -> None:
    """``git add -A`` of the whole working tree at ``cwd`` into the index ``env`` names, the
    state folder left out (blocking). Git 2.39 exits 1 when the exclude names a folder its ignore
    rules leave out already (while adding everything else): that is no failure."""
    args = (*PRIVATE_INDEX, "add", "-A", "--", ":/", repo.state_exclude())
    out = run_git(cwd, args, env, check=False)
    if out.returncode == 0 or (out.returncode == 1 and _only_ignored_state(out.stderr, repo.state_rel)):
        return
    reason = last_line(out.stderr) or f"exit status {out.returncode}"
    raise GitError(f"git add -A in {cwd}: {reason}", args=args, returncode=out.returncode, stderr=out.stderr)


def _only_ignored_state(stderr: str, state_rel: str) -> bool:
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("hint:")]
    return (
        bool(lines)
        and lines[0].startswith("The following paths are ignored")
        and all(line.rstrip("/") == state_rel for line in lines[1:])
    )


async def update_ref(repo: Repo, ref: str, new: str, old: str | None = None) -> None:
    """Point ``ref`` at ``new`` (only if it is at ``old`` when given; ``''`` means it must not
    exist yet); `GitError` when ``old`` does not hold."""
    args = ["update-ref", "-m", "counterpoint", ref, new]
    if old is not None:
        args.append(old or "0" * len(new))
    await git(repo, *args)


async def commit_tree(repo: Repo, tree: str, parents: Sequence[str], message: str) -> str:
    """A commit of ``tree`` with ``parents`` by Counterpoint (no ref moves)."""
    flags = [arg for parent in parents for arg in ("-p", parent)]
    out = await git(repo, "commit-tree", "--no-gpg-sign", *flags, "-m", message, tree, env=IDENTITY)
    return out.stdout.strip()


async def delete_ref(repo: Repo, ref: str) -> None:
    await git(repo, "update-ref", "-d", ref, check=False)


async def resolve(repo: Repo, rev: str) -> str | None:
    """The commit ``rev`` names, or None."""
    out = await git(repo, "rev-parse", "-q", "--verify", f"{rev}^{{commit}}", check=False)
    return out.stdout.strip() or None


async def tree_of(repo: Repo, commit: str) -> str:
    return (await git(repo, "rev-parse", f"{commit}^{{tree}}")).stdout.strip()


async def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    out = await git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    if out.returncode not in (0, 1):
        raise GitError(f"git merge-base --is-ancestor {ancestor} {descendant}: {last_line(out.stderr)}")
    return out.returncode == 0

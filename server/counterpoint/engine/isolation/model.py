"""What the isolation room hands out: its errors, a repository, working copies and merge results.

Plain data: no git runs here. The conflict details are the protocol's models (`ConflictFile`,
`ConflictSide`, `LineSpan`), so a merge result goes into an event as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from counterpoint_protocol.events import ConflictFile


class IsolationError(Exception):
    """Isolation cannot go on: one line for the user naming the cause and the fix."""


class GitError(IsolationError):
    """A git command failed; the message names the command and git's last line of error."""

    def __init__(
        self, message: str, *, args: tuple[str, ...] = (), returncode: int = 0, stderr: str = ""
    ) -> None:
        super().__init__(message)
        self.command = args
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Repo:
    """The git repository a workspace is in, as `open_repo` found it."""

    toplevel: Path
    """The repository's top folder (resolved)."""
    git_dir: Path
    """The common git dir (resolved): objects, refs, ``worktrees/``."""
    head: str | None
    """HEAD's commit; None on an unborn branch."""
    branch: str | None
    """The current branch's short name; None when HEAD is detached."""
    workspace_rel: str
    """The workspace root relative to ``toplevel``, posix (``''`` when they are the same)."""
    worktree_git_dir: Path | None = None
    """This working tree's own git dir (its index, HEAD, MERGE_HEAD...): ``git_dir`` for the main
    working tree, ``git_dir/worktrees/<name>`` for a linked one."""

    @property
    def index_file(self) -> Path:
        """The user's index."""
        return (self.worktree_git_dir or self.git_dir) / "index"

    @property
    def state_rel(self) -> str:
        """Counterpoint's state folder (at the workspace root) relative to ``toplevel``."""
        return f"{self.workspace_rel}/.counterpoint" if self.workspace_rel else ".counterpoint"

    def state_exclude(self) -> str:
        """A pathspec leaving out Counterpoint's state folder."""
        return f":(top,exclude,literal){self.state_rel}"


@dataclass(frozen=True)
class Snapshot:
    """A commit of an agent's working copy on its branch and the files it changed since the last."""

    commit: str
    files: list[str]


@dataclass(frozen=True)
class StartPoint:
    """Where an agent starts: the tip with the snapshots merged in (labels), and those left out."""

    commit: str
    merged: list[str]
    conflicts: list[ConflictFile]


@dataclass(frozen=True)
class MergeResult:
    """A merge made without a working tree: a commit when clean (no ref moved), else the conflicts."""

    commit: str | None
    tree: str | None
    conflicts: list[ConflictFile]


@dataclass
class WorkingCopy:
    """One agent's working copy: a real git working tree on a folder of its own."""

    agent: str
    path: Path
    """The copy's top folder (what ``repo.toplevel`` is for the user's working tree)."""
    branch: str
    """The agent's branch (full ref); snapshots go there. The copy's HEAD is detached at
    ``start_commit``, so the agent's own git view (status, diff, commits) never moves under it."""
    start_commit: str
    method: str
    """``overlay`` (copy-on-write over the run's shared checkout) or ``worktree`` (a full checkout)."""
    seconds: float
    last_snapshot: str
    """The branch's tip: the last snapshot, or ``start_commit`` before the first."""
    admin_dir: Path | None = None
    """The copy's git dir (``<git_dir>/worktrees/<name>``)."""
    last_tree: str = ""
    """The tree of ``last_snapshot``."""
    state_commit: str = ""
    """The last commit `WorkingCopies.state` made (reused while nothing changes)."""
    state_tree: str = ""


def agent_env(copy: WorkingCopy, inherited: str | None = None) -> dict[str, str]:
    """What to add to the environment of an agent's processes in ``copy``: git never looks above
    the copy for a repository (the copy is inside the user's working tree: with its ``.git``
    deleted, an agent's git would find the user's repository). ``inherited``: the
    ``GIT_CEILING_DIRECTORIES`` the agent would get otherwise."""
    ceilings = [os.fspath(copy.path.parent), *([inherited] if inherited else [])]
    return {"GIT_CEILING_DIRECTORIES": os.pathsep.join(ceilings)}

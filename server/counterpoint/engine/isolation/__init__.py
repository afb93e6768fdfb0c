"""The isolation room: each agent in a git working copy of its own, work handed on as commits.

repo (pre-flight `open_repo`, the run's base `capture_base`, refs), copies (`WorkingCopies`:
made when an agent is ready, overlay over one shared checkout or a full worktree, snapshots,
states, removal), merging (`merge`, `predict`: ``git merge-tree`` without a working tree, and
the clashing lines of each side), prune (what crashed runs left), refs (the run's git names),
gitcmd (git off the event loop), model (the data handed out).
"""

from __future__ import annotations

from counterpoint.engine.isolation.checkouts import wait_for_trash
from counterpoint.engine.isolation.copies import WorkingCopies
from counterpoint.engine.isolation.gitcmd import git
from counterpoint.engine.isolation.merging import merge, merge_in, predict
from counterpoint.engine.isolation.model import (
    GitError,
    GitResult,
    IsolationError,
    MergeResult,
    Repo,
    Snapshot,
    StartPoint,
    WorkingCopy,
    agent_env,
)
from counterpoint.engine.isolation.prune import prune
from counterpoint.engine.isolation.refs import RunRefs, ref_component
from counterpoint.engine.isolation.repo import capture_base, commit_tree, open_repo, resolve, update_ref

__all__ = [
    "GitError",
    "GitResult",
    "IsolationError",
    "MergeResult",
    "Repo",
    "RunRefs",
    "Snapshot",
    "StartPoint",
    "WorkingCopies",
    "WorkingCopy",
    "agent_env",
    "capture_base",
    "commit_tree",
    "git",
    "merge",
    "merge_in",
    "open_repo",
    "predict",
    "prune",
    "ref_component",
    "resolve",
    "update_ref",
    "wait_for_trash",
]

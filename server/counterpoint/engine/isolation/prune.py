"""What crashed runs left behind, removed at the next start of the server or the CLI.

A run killed with ``kill -9`` (or a crash, a power cut) leaves its working copies: overlays still
mounted, folders under ``.counterpoint/worktrees/<run>/``, worktrees registered in the user's git
dir. `prune` removes those of every run not live, except the copies a run kept on purpose
(failed agents, for the user to look at: mounted again after a reboot). Only our registrations are removed (those whose
working tree is in our folder), never a stale worktree of the user's: what ``git worktree prune``
would do, limited to ours. Branches stay (they are the runs' work, for review and resume).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from pathlib import Path

from counterpoint.engine.isolation.checkouts import KEPT, TRASH, remove_tree
from counterpoint.engine.isolation.gitcmd import in_thread, run_git
from counterpoint.engine.isolation.overlay import is_mounted, mount_overlay, mounts_under, unmount

log = logging.getLogger(__name__)

STATE_NAME = ".counterpoint"


async def prune(workspace_root: Path, live_runs: Collection[str]) -> list[str]:
    """Remove the working copies of runs not in ``live_runs``; returns what was removed (folders
    and worktree registrations). Never raises: a problem is logged and what could go went."""
    try:
        return await in_thread(_prune, Path(workspace_root), frozenset(live_runs))
    except Exception as error:
        log.warning("isolation: pruning working copies in %s: %s", workspace_root, error)
        return []


def _prune(workspace_root: Path, live: frozenset[str]) -> list[str]:
    worktrees = Path(os.path.realpath(workspace_root / STATE_NAME / "worktrees"))
    if not worktrees.is_dir():
        return []
    removed: list[str] = []
    if (worktrees / TRASH).is_dir():  # what a process that ended first did not finish deleting
        remove_tree(worktrees / TRASH)
    for run_dir in sorted(worktrees.iterdir()):
        if run_dir.name.startswith(".") or run_dir.name in live or not run_dir.is_dir():
            continue
        if (run_dir / KEPT).is_file():
            _revive(run_dir)
            continue
        for point in mounts_under(run_dir):
            try:
                unmount(point)
            except OSError as error:
                log.warning("isolation: cannot unmount %s: %s", point, error)
        remove_tree(run_dir)
        removed.append(os.fspath(run_dir))
    kept = frozenset(p.parent.name for p in worktrees.glob(f"*/{KEPT}"))
    removed.extend(_forget_registrations(workspace_root, worktrees, live | kept))
    return removed


def _revive(run_dir: Path) -> None:
    """The overlays of a run's kept copies mounted again where they are not (after a reboot)."""
    lower = run_dir / ".base"
    for name in (run_dir / KEPT).read_text(encoding="utf-8").split():
        path, layer = run_dir / name, run_dir / ".layers" / name
        if not (layer / "upper").is_dir() or not lower.is_dir() or not path.is_dir() or is_mounted(path):
            continue
        try:
            mount_overlay(lower, layer / "upper", layer / "work", path)
        except OSError as error:
            log.warning("isolation: cannot mount the kept copy %s again: %s", path, error)


def _forget_registrations(workspace_root: Path, worktrees: Path, live: frozenset[str]) -> list[str]:
    """Remove the git dirs of worktrees that were ours (in ``worktrees``, of a run not live) and
    whose working tree is gone."""
    out = run_git(workspace_root, ("rev-parse", "--git-common-dir"), check=False)
    if out.returncode != 0 or not out.stdout.strip():
        return []
    admin_root = Path(os.path.realpath(workspace_root / out.stdout.strip())) / "worktrees"
    if not admin_root.is_dir():
        return []
    forgotten: list[str] = []
    for admin in sorted(admin_root.iterdir()):
        try:
            target = Path(os.path.realpath((admin / "gitdir").read_text(encoding="utf-8").strip()))
        except OSError:
            continue
        if not target.is_relative_to(worktrees) or target.exists():
            continue
        run = target.relative_to(worktrees).parts[0]
        if run in live:
            continue
        remove_tree(admin)
        forgotten.append(os.fspath(admin))
    return forgotten

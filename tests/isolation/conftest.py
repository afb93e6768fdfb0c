"""Helpers for the isolation tests: real git repositories made in ``tmp_path``, and no mount left
behind by a failing test (a mounted overlay under ``tmp_path`` would outlive the test)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from counterpoint.engine.isolation.overlay import mounts_under, unmount

from tests.support.git import git, make_repo


def tree_files(repo: Path, commit: str) -> dict[str, bytes]:
    """Every file of ``commit``: path -> content."""
    listing = git(repo, "ls-tree", "-r", "-z", "--format=%(objectname) %(path)", commit)
    found = {}
    for entry in listing.split("\0"):
        if entry:
            oid, path = entry.split(" ", 1)
            found[path] = subprocess.run(
                ["git", "cat-file", "blob", oid], cwd=repo, capture_output=True, check=True
            ).stdout
    return found


def disk_files(root: Path, skip: tuple[str, ...] = (".git",)) -> dict[str, bytes]:
    """Every file under ``root`` (not under the ``skip`` top-level names): path -> content."""
    found = {}
    for folder, dirs, names in os.walk(root):
        rel = Path(folder).relative_to(root)
        if rel.parts and rel.parts[0] in skip:
            continue
        dirs[:] = [d for d in dirs if rel.parts or d not in skip]
        for name in names:
            if not rel.parts and name in skip:
                continue
            found[(rel / name).as_posix()] = (Path(folder) / name).read_bytes()
    return found


def mounted_under(folder: Path) -> list[Path]:
    return mounts_under(folder)


def registered_worktrees(repo: Path) -> list[str]:
    """The linked worktrees git knows of (the main one left out)."""
    lines = git(repo, "worktree", "list", "--porcelain").splitlines()
    return [line.removeprefix("worktree ") for line in lines if line.startswith("worktree ")][1:]


def overlay_permitted(tmp_path: Path) -> bool:
    """Whether this process may mount an overlay here (root on a file system overlayfs takes)."""
    from counterpoint.engine.isolation.overlay import mount_overlay

    probe = tmp_path / ".overlay-probe"
    parts = [probe / name for name in ("lower", "upper", "work", "target")]
    for part in parts:
        part.mkdir(parents=True)
    try:
        mount_overlay(*parts)
    except OSError:
        return False
    unmount(parts[3])
    return True


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[..., Path]:
    """``repo_factory(files, name="repo", commit=True)`` -> a new repository under ``tmp_path``."""

    def make(files: dict[str, str | bytes] | None = None, name: str = "repo", commit: bool = True) -> Path:
        return make_repo(tmp_path / name, files, commit=commit)

    return make


@pytest.fixture
def overlay_ok(tmp_path: Path) -> bool:
    """Overlay mounts work here (the fast path is tested, never skipped): the suite runs as root
    on Linux, as CI does; a machine that refuses them fails here, saying so."""
    assert overlay_permitted(tmp_path), "overlay mounts are refused here: run the tests as root on Linux"
    return True


@pytest.fixture(autouse=True)
def _unmount_leftovers(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves mounted under its ``tmp_path`` is unmounted after it."""
    yield
    for point in mounts_under(tmp_path):
        try:
            unmount(point)
        except OSError:
            pass

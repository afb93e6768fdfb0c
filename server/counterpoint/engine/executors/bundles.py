"""An agent's work between machines, as git objects in bundles (``git bundle``).

The coordinator ships a node the tree an agent starts from as a commit of its own, without the
repository's history: on top of the last tree that node has (so the bundle carries only the
objects that differ: git leaves out what the parent has), or parentless for a node's first; the
node's snapshots come back as commits on top of it, and the coordinator puts their trees on the
agent's branch in the user's repository (`reparent`), where merges see the real ancestry.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from counterpoint.engine.isolation import GitError, Repo, git

IDENTITY = {
    "GIT_AUTHOR_NAME": "Counterpoint",
    "GIT_AUTHOR_EMAIL": "counterpoint@localhost",
    "GIT_COMMITTER_NAME": "Counterpoint",
    "GIT_COMMITTER_EMAIL": "counterpoint@localhost",
}
FIXED_DATE = {"GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
"""The start tree's commit is the same for the same tree: a node that has it gets nothing again."""


async def tree_of(where: Repo | Path, commit: str) -> str:
    return (await git(where, "rev-parse", f"{commit}^{{tree}}")).stdout.strip()


async def start_commit(repo: Repo, commit: str, parent: str | None = None) -> str:
    """The commit of ``commit``'s tree that a node starts from: on ``parent`` (the last tree that
    node has: the bundle then carries only what differs), or parentless. ``parent`` itself when
    its tree is the same."""
    tree = await tree_of(repo, commit)
    if parent and await tree_of(repo, parent) == tree:
        return parent
    message = "Counterpoint: the tree an agent starts from"
    flags = ["-p", parent] if parent else []
    env = {**IDENTITY, **FIXED_DATE}
    out = await git(repo, "commit-tree", "--no-gpg-sign", *flags, "-m", message, tree, env=env)
    return out.stdout.strip()


async def bundle(where: Repo | Path, commit: str, known: Sequence[str], ref: str) -> bytes | None:
    """The objects that get a repository holding ``known`` to ``commit`` (None: it has them all)."""
    if commit in known:
        return None
    await git(where, "update-ref", ref, commit)
    excluded = [f"^{k}" for k in dict.fromkeys(known) if k and k != commit]
    out = await git(where, "bundle", "create", "-q", "-", ref, *excluded, check=False)
    if out.returncode != 0:
        if "empty bundle" in out.stderr:
            return None
        raise GitError(f"git bundle create: {out.stderr.strip().splitlines()[-1:]}", stderr=out.stderr)
    return out.stdout.encode("utf-8", "surrogateescape")


async def unbundle(where: Repo | Path, data: bytes | None) -> None:
    """The objects of a bundle into the repository at ``where`` (no ref moves)."""
    if not data:
        return
    folder = where.git_dir if isinstance(where, Repo) else Path(where)
    name = await asyncio.to_thread(_write_temp, folder, data)
    try:
        await git(where, "bundle", "unbundle", name)
    finally:
        await asyncio.to_thread(Path(name).unlink, True)


def _write_temp(folder: Path, data: bytes) -> str:
    handle, name = tempfile.mkstemp(prefix="counterpoint-", suffix=".bundle", dir=_tmp_dir(folder))
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return name


def _tmp_dir(folder: Path) -> str | None:
    return str(folder) if folder.is_dir() and os.access(folder, os.W_OK) else None


async def reparent(repo: Repo, node_commit: str, parent: str, message: str) -> str:
    """A commit of ``node_commit``'s tree on ``parent`` (the agent's branch in the user's
    repository): what the node made, with the real history under it."""
    tree = await tree_of(repo, node_commit)
    out = await git(repo, "commit-tree", "--no-gpg-sign", "-p", parent, "-m", message, tree, env=IDENTITY)
    return out.stdout.strip()


async def changed_files(where: Repo | Path, old: str, new: str) -> list[str]:
    out = await git(where, "diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new)
    return [name for name in out.stdout.split("\0") if name]

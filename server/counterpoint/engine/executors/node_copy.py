"""An agent's working copy on a node: made from a bundle, snapshotted, bundled back.

A node keeps one object store per repository (``<workdir>/objects/<repository>.git``, a cache
that outlives runs and may be deleted whenever no run is live) that bundles go into, so a tree
shipped once serves every copy on the node; each copy (``<workdir>/<run>/<agent>-...``) is a
repository of its own borrowing those objects (``alternates``), its HEAD detached at the start
commit.
Snapshots are committed from a private index (the agent's own index is never written), with
``.counterpoint/`` and ignored files left out, as in the coordinator's copies.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from counterpoint.engine.executors.bundles import IDENTITY, changed_files, unbundle
from counterpoint.engine.executors.node_overlay import OverlayRefused, overlay_copy, remove_overlay
from counterpoint.engine.isolation import git, ref_component

WORKDIR_ENV = "COUNTERPOINT_RAY_WORKDIR"
"""Where a node keeps copies (default: the temporary folder, ``counterpoint-ray/``)."""
QUIET = ("-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false", "-c", "core.fsmonitor=false")


@dataclass
class NodeCopy:
    agent: str
    path: Path
    """The copy's top folder (what the repository's top folder is for the user)."""
    root: Path
    spec_dir: Path
    start: str
    last: str
    """The last snapshot (the start before the first)."""
    last_tree: str
    sent: str
    """The newest commit whose objects the coordinator has."""
    seconds: float
    method: str = "checkout"
    """``overlay`` (a mount over the node's checkout of the repository) or ``checkout``."""
    layer: Path | None = None
    """An overlay's upper layer."""

    @property
    def index(self) -> Path:
        return self.path / ".git" / "counterpoint-index"

    def env(self) -> dict[str, str]:
        """For the agent's processes: git never looks above the copy for a repository."""
        return {"GIT_CEILING_DIRECTORIES": str(self.path.parent)}


def base_dir() -> Path:
    return Path(os.environ.get(WORKDIR_ENV) or Path(tempfile.gettempdir()) / "counterpoint-ray")


def workdir(run_id: str) -> Path:
    return base_dir() / ref_component(run_id)


def _store(key: str) -> Path:
    """The repository's object store on this node (made once, under a lock: actors share it)."""
    folder = base_dir() / "objects"
    store = folder / f"{ref_component(key)}.git"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (store / "objects").is_dir():
            made = folder / f".new-{uuid.uuid4().hex[:8]}"
            subprocess.run(["git", "init", "-q", "--bare", str(made)], check=True, capture_output=True)
            made.rename(store)
    return store


async def make_copy(
    run_id: str,
    agent: str,
    attempt: int,
    start: str,
    data: bytes | None,
    workspace_rel: str,
    spec_rel: str,
    store_key: str,
) -> NodeCopy:
    started = time.perf_counter()
    folder = workdir(run_id)
    store = await asyncio.to_thread(_store, store_key)
    await asyncio.to_thread(folder.mkdir, 0o755, True, True)
    await unbundle(store, data)
    name = f"{ref_component(agent)}-{attempt}-{uuid.uuid4().hex[:6]}"
    path = folder / name
    layer: Path | None = folder / ".layers" / name
    try:
        await overlay_copy(base_dir(), store, store_key, path, folder / ".layers" / name, start)
        method = "overlay"
    except OverlayRefused:
        await git(folder, "init", "-q", str(path))
        info = path / ".git" / "objects" / "info"
        await asyncio.to_thread(_write, info / "alternates", f"{store / 'objects'}\n")
        await git(path, *QUIET, "checkout", "-q", "--detach", start)
        method, layer = "checkout", None
    except BaseException:
        await remove_overlay(path, folder / ".layers" / name)
        raise
    state = f"/{workspace_rel}/.counterpoint/" if workspace_rel else "/.counterpoint/"
    await asyncio.to_thread(_write, path / ".git" / "info" / "exclude", f"{state}\n")
    copy = NodeCopy(
        agent=agent,
        path=path,
        root=path / workspace_rel if workspace_rel else path,
        spec_dir=path / spec_rel if spec_rel else path,
        start=start,
        last=start,
        last_tree=(await git(path, "rev-parse", f"{start}^{{tree}}")).stdout.strip(),
        sent=start,
        seconds=0.0,
        method=method,
        layer=layer,
    )
    await asyncio.to_thread(shutil.copyfile, path / ".git" / "index", copy.index)
    copy.seconds = round(time.perf_counter() - started, 4)
    return copy


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def snapshot(copy: NodeCopy, message: str) -> tuple[str, list[str]] | None:
    """Commit everything in the copy (parent: the last snapshot); None when nothing changed."""
    env = {"GIT_INDEX_FILE": str(copy.index)}
    await git(copy.path, "add", "-A", "--", ":/", env=env, check=False)
    tree = (await git(copy.path, "write-tree", env=env)).stdout.strip()
    if tree == copy.last_tree:
        return None
    parent = copy.last
    out = await git(
        copy.path, "commit-tree", "--no-gpg-sign", "-p", parent, "-m", message, tree, env=IDENTITY
    )
    copy.last, copy.last_tree = out.stdout.strip(), tree
    await git(copy.path, "update-ref", "refs/counterpoint/last", copy.last)
    return copy.last, await changed_files(copy.path, parent, copy.last)


async def changed_since_start(copy: NodeCopy) -> list[str]:
    return await changed_files(copy.path, copy.start, copy.last) if copy.last != copy.start else []


async def remove(copy: NodeCopy) -> None:
    if copy.layer is not None:
        await remove_overlay(copy.path, copy.layer)
    await asyncio.to_thread(shutil.rmtree, copy.path, True)


async def remove_run(run_id: str) -> None:
    """The run's folder on this node, when no copy of it is left."""
    folder = workdir(run_id)

    def clear() -> None:
        if folder.is_dir() and not any(p.name[0] != "." for p in folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)

    await asyncio.to_thread(clear)

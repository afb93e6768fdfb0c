"""Copies on a node as overlays (a mount, not a checkout), where the node lets us mount.

The node checks a repository's tree out once (``<workdir>/checkouts/<repository>/``, of the
first tree an agent of it starts from, with its index) and keeps it; each copy is an overlay
whose lower layer is that checkout and whose upper layer holds what differs: the copy is moved
to its own start with ``git read-tree -m -u`` (only the files that differ are written), as the
coordinator's own copies are (`counterpoint.engine.isolation`). Where mounting is refused (no
right to mount, no overlayfs), `OverlayRefused` says so once and copies are plain checkouts.
Blocking parts run on threads.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from counterpoint.engine.isolation import git, ref_component
from counterpoint.engine.isolation.overlay import mount_overlay, unmount

QUIET = ("-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false", "-c", "core.fsmonitor=false")
_REFUSED = (errno.EPERM, errno.EACCES, errno.ENODEV, errno.ENOSYS, errno.EINVAL)
refused: list[str] = []
"""Why this process may not mount (found once)."""


class OverlayRefused(Exception):
    pass


def _lower(base: Path, store: Path, key: str, start: str) -> tuple[Path, Path, str]:
    """The repository's checkout on this node (made once, under a lock): folder, index, commit."""
    folder = base / "checkouts" / ref_component(key)
    folder.mkdir(parents=True, exist_ok=True)
    tree, index, made = folder / "tree", folder / "index", folder / "commit"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir()
            env = {
                **os.environ,
                "GIT_DIR": str(store),
                "GIT_WORK_TREE": str(tree),
                "GIT_INDEX_FILE": str(index),
            }
            subprocess.run(
                ["git", *QUIET, "read-tree", "-u", "--reset", start], env=env, check=True, capture_output=True
            )
            made.write_text(start, encoding="utf-8")
    return tree, index, made.read_text(encoding="utf-8").strip()


async def overlay_copy(base: Path, store: Path, key: str, path: Path, layer: Path, start: str) -> None:
    """An overlay copy at ``path`` (its upper layer under ``layer``), at ``start``, HEAD detached
    there, with an index that knows its files. `OverlayRefused` when the node may not mount."""
    if refused:
        raise OverlayRefused(refused[0])
    lower, lower_index, lower_commit = await asyncio.to_thread(_lower, base, store, key, start)
    upper, work = layer / "upper", layer / "work"
    for folder in (upper, work, path):
        await asyncio.to_thread(folder.mkdir, 0o755, True, True)
    try:
        await asyncio.to_thread(mount_overlay, lower, upper, work, path)
    except OSError as exc:
        if exc.errno in _REFUSED:
            refused.append(f"overlay mount refused ({exc.strerror}): plain checkouts")
            raise OverlayRefused(refused[0]) from exc
        raise
    await git(path.parent, "init", "-q", str(path))
    await asyncio.to_thread(shutil.copyfile, lower_index, path / ".git" / "index")
    objects = path / ".git" / "objects" / "info" / "alternates"
    await asyncio.to_thread(objects.write_text, f"{store / 'objects'}\n", "utf-8")
    if lower_commit != start:
        await git(path, *QUIET, "read-tree", "-m", "-u", lower_commit, start)
    await git(path, "update-ref", "--no-deref", "HEAD", start)


async def remove_overlay(path: Path, layer: Path) -> None:
    def remove() -> None:
        try:
            unmount(path)
        except OSError:
            pass
        shutil.rmtree(layer, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)

    await asyncio.to_thread(remove)

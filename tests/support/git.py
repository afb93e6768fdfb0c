"""Real git repositories made by the tests, and ``git`` run in them as the user runs it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

USER = {
    "GIT_AUTHOR_NAME": "User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}


def git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> str:
    """``git *args`` in ``cwd`` as the user runs it: their identity (`USER`), none of the caller's
    ``GIT_*`` variables (``env`` adds to them); its stdout. AssertionError, with git's stderr, when
    it fails (unless not ``check``)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | USER | dict(env or {})
    done = subprocess.run(["git", *args], cwd=cwd, env=full, input=input, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8", "surrogateescape")


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Each file of ``files`` (path relative to ``root`` -> content) written, its folders made."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def make_repo(folder: Path, files: Mapping[str, str | bytes] | None = None, *, commit: bool = True) -> Path:
    """A repository at ``folder`` on branch ``main`` with ``files`` in it, committed as ``start``
    (when ``commit``)."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    write_files(folder, files or {})
    if commit:
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "--allow-empty", "-m", "start")
    return folder

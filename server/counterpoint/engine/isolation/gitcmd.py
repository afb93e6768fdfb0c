"""Running git (and the room's other blocking work) off the event loop, with a clean environment.

Every git command runs with `subprocess.run` on a small thread pool of the room's own, so the
loop never waits on git, a disk or a mount. The environment is the server's without the
variables that would point git elsewhere (``GIT_DIR``, ``GIT_INDEX_FILE``... set when the server
runs from a git hook), in the C locale (git's messages are parsed), never prompting.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from counterpoint.engine.isolation.model import GitError, GitResult, IsolationError, Repo

T = TypeVar("T")

MIN_VERSION = (2, 38)
"""``git merge-tree --write-tree`` (a merge without a working tree) came with git 2.38."""

IDENTITY = {
    "GIT_AUTHOR_NAME": "Counterpoint",
    "GIT_AUTHOR_EMAIL": "counterpoint@localhost",
    "GIT_COMMITTER_NAME": "Counterpoint",
    "GIT_COMMITTER_EMAIL": "counterpoint@localhost",
}
"""Who commits snapshots and merges: works without any user configuration."""

PRIVATE_INDEX = (
    "-c",
    "core.splitIndex=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "core.fsmonitor=false",
)
"""For commands writing an index of ours: no extension ties it to files in the user's git dir."""

QUIET_CONFIG = (
    *PRIVATE_INDEX,
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.sparseCheckout=false",
    "-c",
    "advice.detachedHead=false",
)
"""For our own checkouts: complete (not sparse), and the user's hooks do not run on them."""

_SCRUBBED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_INTERNAL_SUPER_PREFIX",
)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_versions: dict[str, tuple[int, ...]] = {}


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="counterpoint-git")
        return _executor


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` on the room's thread pool (blocking work: git, files, mounts)."""
    return await asyncio.get_running_loop().run_in_executor(_pool(), functools.partial(fn, *args))


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update({"LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"})
    if extra:
        env.update(extra)
    return env


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_git(
    cwd: Path,
    args: tuple[str, ...],
    env: Mapping[str, str] | None = None,
    input: bytes | str | None = None,
    check: bool = True,
) -> GitResult:
    """Run ``git *args`` in ``cwd`` now (blocking: call it on a thread)."""
    if isinstance(input, str):
        input = input.encode("utf-8", "surrogateescape")
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=git_env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as error:
        if not cwd.is_dir():
            raise IsolationError(f"{cwd} is not a folder (git cannot run there)") from error
        raise IsolationError("git is not installed (not found on PATH): install git 2.38 or later") from error
    result = GitResult(
        done.returncode,
        done.stdout.decode("utf-8", "surrogateescape"),
        done.stderr.decode("utf-8", "surrogateescape"),
    )
    if check and result.returncode != 0:
        shown = " ".join(_without_config(args))[:200]
        reason = last_line(result.stderr) or f"exit status {result.returncode}"
        raise GitError(
            f"git {shown}: {reason}", args=args, returncode=result.returncode, stderr=result.stderr
        )
    return result


async def git(
    repo_or_cwd: Repo | Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | str | None = None,
    check: bool = True,
) -> GitResult:
    """Run git in the repository's top folder (or a folder) off the loop; `GitError` if it fails
    and ``check``."""
    cwd = repo_or_cwd.toplevel if isinstance(repo_or_cwd, Repo) else Path(repo_or_cwd)
    return await in_thread(run_git, cwd, args, env, input, check)


def _without_config(args: tuple[str, ...]) -> list[str]:
    """``args`` without the ``-c name=value`` pairs (what a person would type)."""
    shown: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-c":
            skip = True
        else:
            shown.append(arg)
    return shown


def git_version() -> tuple[int, ...]:
    """The version of the git on PATH (blocking; remembered per executable)."""
    executable = shutil.which("git", path=git_env().get("PATH"))
    if executable is None:
        raise IsolationError("git is not installed (not found on PATH): install git 2.38 or later")
    key = f"{executable}:{_mtime(executable)}"
    if key not in _versions:
        out = run_git(Path.cwd() if Path.cwd().is_dir() else Path("/"), ("--version",), check=False)
        match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out.stdout)
        if out.returncode != 0 or match is None:
            raise IsolationError(f"`git --version` did not answer ({last_line(out.stderr)}): reinstall git")
        _versions[key] = tuple(int(part) for part in match.groups() if part is not None)
    return _versions[key]


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def require_version() -> None:
    version = git_version()
    if version[:2] < MIN_VERSION:
        shown = ".".join(map(str, version))
        raise IsolationError(
            f"git {shown} is too old for isolated agents (merges without a working tree need 2.38): "
            "upgrade git, or set `isolation: shared`"
        )

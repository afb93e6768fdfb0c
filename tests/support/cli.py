"""The ``counterpoint`` command as a user runs it in a terminal: this venv's ``python -m counterpoint``
in a subprocess, no stdin, its output as text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

COUNTERPOINT = (sys.executable, "-m", "counterpoint")


def user_env(config: Path, **extra: str) -> dict[str, str]:
    """This process's environment as a user's shell has it: their settings and trust in ``config``
    (``XDG_CONFIG_HOME``), no ``COUNTERPOINT_TRUST``, output unbuffered; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if k != "COUNTERPOINT_TRUST"}
    return env | {"XDG_CONFIG_HOME": str(config), "PYTHONUNBUFFERED": "1"} | extra


def run_cli(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``counterpoint *args`` in ``cwd`` to its end (``env``: its whole environment; None: this
    process's): its exit code, stdout and stderr."""
    return subprocess.run(
        [*COUNTERPOINT, *map(str, args)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """``counterpoint *args`` started in ``cwd``, its stdout and stderr piped as text; ``popen`` adds
    to or replaces Popen's arguments (``stderr=subprocess.STDOUT``, ``start_new_session=True``)."""
    options: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
    }
    return subprocess.Popen([*COUNTERPOINT, *map(str, args)], cwd=cwd, env=env, **(options | popen))

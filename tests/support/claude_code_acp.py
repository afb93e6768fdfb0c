"""Claude Code's ACP adapter from npm (``@zed-industries/claude-code-acp``), installed once into
the cache the other test tools use (``~/.cache/counterpoint`` or ``$COUNTERPOINT_CACHE``, next to
code-server), keyed by version, and reused afterwards.

`install_claude_code_acp` is safe to call from every pytest-xdist worker (and from two test runs
at once): one process installs under an exclusive file lock while the others wait for it; a
``.complete`` file marks a finished install, so an interrupted one is made again. The package
bundles the Claude Code CLI: nothing more is downloaded at run time. Needs ``npm`` (Node.js 20+,
which the VS Code tests need too); without it the test fails with a message saying so: it is
never skipped.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

PACKAGE = "@zed-industries/claude-code-acp"
VERSION = os.environ.get("COUNTERPOINT_CLAUDE_CODE_ACP_VERSION", "0.16.2")
"""The version pinned (seen working offline against a loopback model)."""
INSTALL_TIMEOUT = 900.0
"""Seconds for ``npm install`` (about 10 s here; a slow registry or disk may take much longer)."""


def cache_root() -> Path:
    return Path(os.environ.get("COUNTERPOINT_CACHE") or Path.home() / ".cache" / "counterpoint")


def install_claude_code_acp(version: str = VERSION) -> Path:
    """The ``claude-code-acp`` executable of ``version``, installed first if need be."""
    dest = cache_root() / f"claude-code-acp-{version}"
    executable = dest / "node_modules" / ".bin" / "claude-code-acp"
    done = dest / ".complete"
    if done.is_file() and executable.exists():
        return executable
    npm = shutil.which("npm")
    if npm is None:
        raise AssertionError(
            f"npm is missing: install Node.js 20 or later with npm (the tests install {PACKAGE} with it)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f"claude-code-acp-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be installing: wait for it
        if done.is_file() and executable.exists():
            return executable
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        (dest / "package.json").write_text(
            '{"name": "counterpoint-claude-code-acp-cache", "private": true}\n'
        )
        installed = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                os.fspath(dest),
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",  # the package needs none: its CLI is bundled JavaScript
                "--loglevel=error",
                f"{PACKAGE}@{version}",
            ],
            cwd=dest,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if installed.returncode != 0 or not executable.exists():
            raise AssertionError(
                f"npm install {PACKAGE}@{version} into {dest} failed ({installed.returncode}): "
                + (installed.stderr or installed.stdout)[-4000:]
            )
        done.write_text(f"{PACKAGE}@{version}\n")
    return executable

"""Consent to run commands that a spec asks for.

A spec comes from the workspace, which is not trusted by default. Command
agents, checks, ``run_command`` and ACP agent commands run only when the user
allowed them: ``--trust``, ``COUNTERPOINT_TRUST=1``, a user-level allowlist
(outside the workspace, in ``$XDG_CONFIG_HOME/counterpoint/trust.json``), or an
explicit approval asked through the editor or the terminal and remembered
per workspace.

Consent cannot be obtained from inside a run: a run reads it once, before its
first agent starts (`ConsentPolicy.snapshot`), so nothing written during the run
counts; and a trust file lying inside the run's workspace (a home folder kept in
git holds ``~/.config``) is ignored with a warning, since the spec's agents could
have written it. Agents' file tools refuse the config folder anyway
(`counterpoint.engine.workspace.machinery`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from counterpoint.engine.workspace.paths import config_dir

log = logging.getLogger(__name__)

Asker = Callable[[str, str], Awaitable[bool]]
"""(workspace, what wants to run) -> the user's answer."""

HOW_TO_GRANT = (
    "commands from this workspace's spec need your consent: run with --trust, set COUNTERPOINT_TRUST=1, "
    "or approve the workspace when asked (it is remembered in {config})"
)


class ConsentDenied(Exception):
    pass


def trust_file() -> Path:
    return config_dir() / "trust.json"


def _env_trust() -> bool:
    return os.environ.get("COUNTERPOINT_TRUST", "").strip().lower() in {"1", "true", "yes"}


def inside_workspace(path: Path, workspace: Path) -> bool:
    """Whether ``path`` (or where its links lead) lies in ``workspace``: agents could write it."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(workspace))


def writable_by_agents_note(path: Path, workspace: Path) -> str:
    return (
        f"ignoring {path}: it lies inside the workspace {workspace}, where the spec's agents could "
        "have written it (set XDG_CONFIG_HOME to a folder outside the workspace to use it)"
    )


def load_trusted(path: Path | None = None) -> set[str]:
    path = path or trust_file()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return set()
    return {str(w) for w in data.get("workspaces", [])}


def remember_trusted(workspace: Path, path: Path | None = None) -> None:
    path = path or trust_file()
    trusted = load_trusted(path)
    trusted.add(str(workspace.resolve()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"workspaces": sorted(trusted)}, indent=2))
    os.replace(tmp, path)


class ConsentPolicy:
    """Decides whether commands from one workspace may run; asks at most once at a time."""

    def __init__(self, workspace: Path, *, trust: bool = False, asker: Asker | None = None) -> None:
        self.workspace = workspace.resolve()
        self.trust = trust
        self.asker = asker
        self._lock = asyncio.Lock()
        self._denied = False
        self._standing: bool | None = None
        """Consent found before the run (env, allowlist); None until `snapshot`."""
        self._config_inside = False
        """The allowlist lies inside the workspace: ignored, and an approval is not written there."""
        self.note: str | None = None
        """Why the allowlist was ignored, if it was (said with every refusal)."""

    def _read_standing(self) -> bool:
        if _env_trust():
            return True
        path = trust_file()
        if inside_workspace(path, self.workspace):
            self._config_inside = True
            if path.exists():
                self.note = writable_by_agents_note(path, self.workspace)
                log.warning("%s", self.note)
            return False
        return str(self.workspace) in load_trusted(path)

    async def snapshot(self) -> None:
        """Read the standing consent now, once: a run calls this before its first agent starts."""
        if self._standing is None:
            standing = await asyncio.to_thread(self._read_standing)
            if self._standing is None:
                self._standing = standing

    async def allowed(self, what: str) -> bool:
        if self.trust:
            return True
        await self.snapshot()
        if self._standing:
            return True
        if self.asker is None or self._denied:
            return False
        async with self._lock:
            if self.trust:
                return True
            if self._denied:
                return False
            answer = await self.asker(str(self.workspace), what)
            if answer:
                self.trust = True
                if not self._config_inside:
                    await asyncio.to_thread(remember_trusted, self.workspace)
            else:
                self._denied = True
            return answer

    async def require(self, what: str) -> None:
        if not await self.allowed(what):
            how = HOW_TO_GRANT.format(config=trust_file())
            raise ConsentDenied(
                f"not allowed to run {what!r}: {how}" + (f"; {self.note}" if self.note else "")
            )

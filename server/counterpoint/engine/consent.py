"""Consent to run commands that a spec asks for.

A spec comes from the workspace, which is not trusted by default. Command
agents, checks, ``run_command`` and ACP agent commands run only when the user
allowed them: ``--trust``, ``COUNTERPOINT_TRUST=1``, a user-level allowlist
(outside the workspace, in ``$XDG_CONFIG_HOME/counterpoint/trust.json``), or an
explicit approval asked through the editor or the terminal and remembered
per workspace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

Asker = Callable[[str, str], Awaitable[bool]]
"""(workspace, what wants to run) -> the user's answer."""

HOW_TO_GRANT = (
    "commands from this workspace's spec need your consent: run with --trust, set COUNTERPOINT_TRUST=1, "
    "or approve the workspace when asked (it is remembered in {config})"
)


class ConsentDenied(Exception):
    pass


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "counterpoint"


def trust_file() -> Path:
    return config_dir() / "trust.json"


def _env_trust() -> bool:
    return os.environ.get("COUNTERPOINT_TRUST", "").strip().lower() in {"1", "true", "yes"}


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

    def granted_without_asking(self) -> bool:
        return self.trust or _env_trust() or str(self.workspace) in load_trusted()

    async def allowed(self, what: str) -> bool:
        if self.trust or await asyncio.to_thread(self.granted_without_asking):
            return True
        if self.asker is None or self._denied:
            return False
        async with self._lock:
            if await asyncio.to_thread(self.granted_without_asking):
                return True
            if self._denied:
                return False
            answer = await self.asker(str(self.workspace), what)
            if answer:
                await asyncio.to_thread(remember_trusted, self.workspace)
                self.trust = True
            else:
                self._denied = True
            return answer

    async def require(self, what: str) -> None:
        if not await self.allowed(what):
            raise ConsentDenied(f"not allowed to run {what!r}: " + HOW_TO_GRANT.format(config=trust_file()))

"""The git names of one isolated run: its base, its integration branch, its agents' branches.

Git keeps refs as paths, so ``counterpoint/<run>`` and ``counterpoint/<run>/<agent>`` cannot both
be branches (one would be a file and a folder at once). The run's branches therefore live side by
side under ``counterpoint/<run>/``: ``integration`` and ``agents/<agent>``. The base (the user's
HEAD plus their uncommitted changes, captured at the start) is a hidden ref, not a branch, so it
never shows in the user's branch list.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")


def ref_component(name: str) -> str:
    """``name`` as one component of a ref: agent names are ``[A-Za-z_][A-Za-z0-9_.-]*`` (the
    protocol's grammar); the few of those git refuses (``..``, a trailing ``.`` or ``.lock``)
    get their dots replaced and a short hash, so two names never share a ref."""
    if _SAFE_COMPONENT.fullmatch(name) and not name.endswith(".lock"):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name.replace('.', '_')}-{digest}"


@dataclass(frozen=True)
class RunRefs:
    """The refs of run ``run_id`` (run ids are ``YYYYmmdd-HHMMSS-xxxxxx``)."""

    run_id: str

    @property
    def prefix(self) -> str:
        """Every branch of the run starts with this (``refs/heads/counterpoint/<run>/``)."""
        return f"refs/heads/counterpoint/{self.run_id}/"

    @property
    def base(self) -> str:
        return f"refs/counterpoint/{self.run_id}/base"

    @property
    def integration(self) -> str:
        return f"{self.prefix}integration"

    def agent(self, name: str) -> str:
        return f"{self.prefix}agents/{ref_component(name)}"

    @staticmethod
    def branch_name(ref: str) -> str:
        """``refs/heads/x/y`` -> ``x/y`` (what people type)."""
        return ref.removeprefix("refs/heads/")

"""`AgentPlace`: where one isolated agent (or an integrator) works in an isolated run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint.engine.isolation import WorkingCopy
from counterpoint.engine.workspace import WorkspaceTools

if TYPE_CHECKING:
    from counterpoint.engine.watch import FileSignalSource


@dataclass
class AgentPlace:
    """Where one isolated agent (or an integrator) works: its copy and what maps onto it."""

    copy: WorkingCopy
    root: Path
    """The workspace root inside the copy."""
    spec_dir: Path
    tools: WorkspaceTools
    source: FileSignalSource | None = None
    on_signal: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    """Fire a signal the agent emits, with a snapshot of its copy."""
    snapshots: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    """Added to its processes' environment (git never looks above the copy for a repository)."""
    conflict_note: str = ""
    """On a restart after a merge conflict: what conflicted, added to its task."""

"""Where Counterpoint keeps things: a workspace's root and state folder, the user's config folder.

Leaf module (no engine imports): the engine, the consent and config readers, the confinement of
agents and the CLI all ask here, so each place is decided once.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR = ".counterpoint"
"""A workspace's own folder (event log, run folders, spec locks); agents never reach it."""


def find_workspace_root(spec_path: Path) -> Path:
    """The nearest folder up from the spec holding ``.git`` or ``.counterpoint``, else the spec's folder."""
    start = spec_path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / STATE_DIR).is_dir():
            return folder
    return start


def db_path(root: Path) -> Path:
    """The event log of the workspace rooted at ``root``."""
    return root / STATE_DIR / "events.db"


def config_dir() -> Path:
    """The user's Counterpoint config folder: ``$XDG_CONFIG_HOME/counterpoint`` (or ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "counterpoint"


def config_dirs() -> tuple[Path, ...]:
    """Every folder that may hold the user's config: ``$XDG_CONFIG_HOME``'s and the default one."""
    current = config_dir()
    try:
        default = Path.home() / ".config" / "counterpoint"
    except RuntimeError:  # no home folder known
        return (current,)
    return (current,) if current == default else (current, default)

"""What agents may never touch inside their workspace: the repository's and Counterpoint's machinery.

Confinement to the workspace root is not enough: the root holds ``.git`` (its
``config`` and ``hooks`` run commands on the user's next ``git status``),
``.counterpoint`` (the event log, history of every run) and, when the root is a
home folder kept in git (dotfiles), the user's own Counterpoint configuration
(consent, LLM keys). `Machinery` says whether a resolved path is part of one of
those; `WorkspaceTools` refuses every access to them (reads too: ``.git/config``
may hold credentials in remote URLs, ``settings.json`` holds API keys) and its
listings and searches skip them.

What counts as machinery:

- anything named ``.git`` (folder or the file of a worktree/submodule) or
  ``.counterpoint``, at any depth, and everything under it;
- any folder with the shape of a git directory (``HEAD``, ``objects/``,
  ``refs/``) below the root, whatever its name (a submodule's git dir, a bare
  repository a ``.git`` file points at);
- the user-level configuration folder (``$XDG_CONFIG_HOME/counterpoint`` and
  ``~/.config/counterpoint``), wherever it is.

Callers pass paths already resolved (symlinks followed, ``..`` gone), so a
symlink into any of these is judged by where it points.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from counterpoint.engine.workspace.paths import config_dirs

GIT_NAME = ".git"
STATE_NAME = ".counterpoint"
REFUSED = "agents may not read or write it"


def is_git_dir(folder: str | Path) -> bool:
    """Whether ``folder`` looks like a git directory (what git itself checks, roughly)."""
    return (
        os.path.isfile(os.path.join(folder, "HEAD"))
        and os.path.isdir(os.path.join(folder, "objects"))
        and os.path.isdir(os.path.join(folder, "refs"))
    )


class Machinery:
    """The protected parts of the workspace ``root`` (resolved) and the user's config folders."""

    def __init__(self, root: Path, configs: Iterable[Path] | None = None) -> None:
        self.root = root
        self.configs = tuple(
            Path(os.path.realpath(c)) for c in (config_dirs() if configs is None else configs)
        )

    def refusal(self, resolved: Path, shown: str) -> str | None:
        """Why ``resolved`` (inside the root) is off limits, or None when agents may use it."""
        for config in self.configs:
            if resolved.is_relative_to(config):
                return f"{shown!r} is in Counterpoint's user configuration ({config}): {REFUSED}"
        try:
            parts = resolved.relative_to(self.root).parts
        except ValueError:
            return None
        if GIT_NAME in parts:
            return f"{shown!r} is inside the repository's git folder ({GIT_NAME}): {REFUSED}"
        if STATE_NAME in parts:
            return f"{shown!r} is inside Counterpoint's own state ({STATE_NAME}): {REFUSED}"
        folder = self.root
        for part in parts:
            folder = folder / part
            if is_git_dir(folder):
                return f"{shown!r} is inside a git directory ({folder.relative_to(self.root)}): {REFUSED}"
        return None

    def skip_dir(self, folder: Path) -> bool:
        """Whether a walk should not descend into ``folder`` (a real folder whose parent passed)."""
        return (
            folder.name in (GIT_NAME, STATE_NAME)
            or is_git_dir(folder)
            or any(folder.is_relative_to(config) for config in self.configs)
        )

    def skip_file(self, folder: str, name: str) -> bool:
        """Whether a walk should leave out the file ``name`` of ``folder`` (which passed `skip_dir`).

        Strings, not `Path`: called for every file of a listing or search.
        """
        if name in (GIT_NAME, STATE_NAME):
            return True
        file = os.path.join(folder, name)
        if not os.path.islink(file):
            return False
        target = Path(os.path.realpath(file))
        return not target.is_relative_to(self.root) or self.refusal(target, name) is not None

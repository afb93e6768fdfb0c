"""Workspaces for confinement tests: a folder with a way out that must stay shut."""

from __future__ import annotations

from pathlib import Path


def workspace_with_link_out(tmp_path: Path, link: str = "link") -> tuple[Path, Path]:
    """(``tmp_path/ws``, ``tmp_path/outside``): the workspace holds ``link``, a symlink to outside."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / link).symlink_to(outside)
    return workspace, outside

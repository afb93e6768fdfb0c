"""`counterpoint.trust` from the editor: remembered outside the workspace, refused where agents could write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import client_capabilities

from tests.conftest import server_env
from tests.lsp.conftest import make_client
from tests.lsp.helpers import execute, get


async def trust_from_editor(home: Path, workspace: Path, config: Path) -> tuple[object, str | None]:
    """Start a real server with ``config`` as XDG_CONFIG_HOME and ask it to trust ``workspace``."""
    client = make_client()
    await client.start_io(
        sys.executable,
        "-m",
        "counterpoint",
        "lsp",
        env=server_env(COUNTERPOINT_TRUST="0", XDG_CONFIG_HOME=str(config), HOME=str(home)),
    )
    try:
        await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities("neovim"), root_uri=workspace.as_uri())
        )
        try:
            result = await execute(client, Commands.TRUST, {"uri": workspace.as_uri()})
        except JsonRpcException as exc:
            return None, str(exc)
        return result, None
    finally:
        await client.shutdown_session()


async def test_trust_is_remembered_in_the_users_config(tmp_path: Path) -> None:
    workspace = tmp_path / "project"
    (workspace / ".git").mkdir(parents=True)
    config = tmp_path / "config"
    result, error = await trust_from_editor(tmp_path, workspace, config)
    assert error is None
    assert get(result, "trusted") == str(workspace.resolve())
    saved = json.loads((config / "counterpoint" / "trust.json").read_text())
    assert saved["workspaces"] == [str(workspace.resolve())]


@pytest.mark.parametrize("inside", ["config", "linked"])
async def test_trust_is_refused_when_the_allowlist_lies_inside_the_workspace(
    tmp_path: Path, inside: str
) -> None:
    """A home folder that is itself a git repository (dotfiles): the allowlist is in the workspace,
    where the spec's agents could write it, so it is never honoured: the command says so and
    writes nothing there."""
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)
    if inside == "config":
        config = home / ".config"
    else:
        (tmp_path / "elsewhere").mkdir()
        config = tmp_path / "elsewhere" / "config"
        (home / ".config").mkdir()
        config.symlink_to(home / ".config", target_is_directory=True)
    result, error = await trust_from_editor(home, home, config)
    assert result is None
    assert error is not None and "inside the workspace" in error and "XDG_CONFIG_HOME" in error
    assert not (home / ".config" / "counterpoint" / "trust.json").exists()

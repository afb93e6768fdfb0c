"""pytest-lsp fixtures: the real server as a subprocess over stdio, with VS Code and Neovim capabilities."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from counterpoint_protocol.methods import Notifications
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.conftest import copy_example

CLIENTS = ["visual_studio_code", "neovim"]


def to_plain(value: Any) -> Any:
    """pygls gives unknown notifications' params as namedtuples: make them plain JSON values."""
    if hasattr(value, "_asdict"):
        return {k: to_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


def make_client() -> LanguageClient:
    client = make_test_lsp_client()
    client.counterpoint_events = []  # type: ignore[attr-defined]
    client.message_requests = []  # type: ignore[attr-defined]
    client.gate_answer = "Start"  # type: ignore[attr-defined]

    @client.feature(Notifications.EVENT)
    def on_event(ls: LanguageClient, params: Any) -> None:
        ls.counterpoint_events.append(to_plain(params))  # type: ignore[attr-defined]

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def on_request(
        ls: LanguageClient, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        ls.message_requests.append(params)  # type: ignore[attr-defined]
        wanted = "Allow" if "Allow" in [a.title for a in params.actions or []] else ls.gate_answer  # type: ignore[attr-defined]
        return types.MessageActionItem(title=wanted)

    client.refreshes = []  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_lens_refresh(ls: LanguageClient, params: Any) -> None:
        ls.refreshes.append("codeLens")  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def on_hint_refresh(ls: LanguageClient, params: Any) -> None:
        ls.refreshes.append("inlayHint")  # type: ignore[attr-defined]

    return client


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("ws") / "course-enrollment").parent


@pytest_lsp.fixture(
    params=CLIENTS,
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "counterpoint", "lsp"],
        client_factory=make_client,
    ),
)
async def client(
    request: pytest.FixtureRequest, lsp_client: LanguageClient, workspace: Path
) -> AsyncIterator[None]:
    params = types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        initialization_options={"trust": True},
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()

"""The event log failing mid-run (a full disk) is told to the user, not only logged.

The workspace's ``.counterpoint`` is a small tmpfs (root: the test machine runs as root); once the
agent has started, the disk is filled and the agent writes more than it holds. The server stops
the run and says so with a ``window/showMessage`` error naming the run and the cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.helpers import execute, get, progress_kinds, wait_for
from tests.support.damage import WORK, fill, small_disk
from tests.support.damage import workspace as damage_workspace


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace whose agent waits for ``go`` then prints far more than a 2 MB disk holds."""
    folder = tmp_path_factory.mktemp("ws") / "full-disk"
    damage_workspace(folder, ready=False)
    (folder / "work.sh").write_text(WORK.replace("${LINES_OUT:-5}", "200000"))
    with small_disk(folder / ".counterpoint"):
        yield folder


def errors(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Error]


async def test_a_log_failing_mid_run_is_shown_as_an_error(client: LanguageClient, workspace: Path) -> None:
    spec = workspace / "damage.agents.md"
    run_id = get(await execute(client, Commands.RUN, {"uri": spec.as_uri()}), "runId")
    await wait_for(lambda: (workspace / "started.marker").exists())
    filler = fill(workspace / ".counterpoint")
    (workspace / "go").write_text("")
    await wait_for(lambda: any("no space left" in m for m in errors(client)), timeout=120)
    (message,) = [m for m in errors(client) if "no space left" in m]
    assert run_id in message and "stopped" in message, message
    assert "\n" not in message
    caps = client.capabilities
    if caps and caps.window and caps.window.work_done_progress:  # the run's progress ends too
        await wait_for(lambda: progress_kinds(client, f"counterpoint/run/{run_id}")[-1:] == ["end"])
    filler.unlink()

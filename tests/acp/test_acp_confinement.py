"""An ACP agent's ``fs/write_text_file`` goes through the confined workspace tools: no ``.git``, no config.

The fake ACP agent (a real subprocess) asks permission for a path and then
writes it anyway through the client's file system; both must be refused for the
repository's and Counterpoint's machinery, as for a path outside the workspace.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.acp.test_acp_runner import fake_command, lines, make_spec, run_spec


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"  # a home kept in git: the user config folder is inside it
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".counterpoint").mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / ".config"))
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")  # consent to start the ACP agent itself
    return root


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (".git/config", "the repository's git folder"),
        (".git/hooks/pre-commit", "the repository's git folder"),
        (".config/counterpoint/trust.json", "Counterpoint's user configuration"),
        (".counterpoint/events.db", "Counterpoint's own state"),
    ],
)
async def test_acp_writes_into_the_machinery_are_refused(workspace: Path, target: str, reason: str) -> None:
    path = workspace / target
    spec = make_spec(workspace, "intruder", fake_command("escape", str(path)))
    status, events, _ = await run_spec(workspace, spec)

    assert status == "succeeded"
    permission = next(e for e in events if e.action == "permission")
    assert permission.metadata["decision"] == "reject_once"
    assert permission.metadata["reason"] == f"outside the workspace or in its machinery: {path}"
    write = next(e for e in events if e.type == "tool_call" and e.action == "write_file")
    assert write.actor == "intruder" and reason in write.metadata["error"]
    assert any(line.startswith("write refused:") and reason in line for line in lines(events))
    assert not [e for e in events if e.type == "file_written"]
    assert b"escaped" not in (path.read_bytes() if path.exists() else b"")  # what the agent wrote

"""``--acp-permission`` on ``counterpoint run`` and ``resume``: the CLI as a user runs it.

Real CLI subprocesses, the fake ACP agent, the real SQLite event log: the policy recorded on
each permission answer says which policy the run got.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from counterpoint.engine.log import query_events
from counterpoint.engine.runners.acp import PERMISSION_POLICIES

from tests.acp.test_acp_runner import FAKE_AGENT
from tests.support.cli import run_cli, user_env


def cli(*args: str | Path, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env=user_env(config))


def workspace_with_spec(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "ws"
    (root / ".counterpoint").mkdir(parents=True)
    (root / "input.txt").write_text("hello flag\n")
    spec = root / "feature.agents.md"
    # `strict`: a refused write ends the turn with `refusal`, so the agent fails.
    spec.write_text(
        f"# feature\n\n## coder\nrunner: acp\ncommand: {sys.executable} {FAKE_AGENT} write strict\n\n"
        "Do the task.\n"
    )
    config = tmp_path / "config"
    (config / "counterpoint").mkdir(parents=True)
    return root, spec, config


def permissions(root: Path) -> list[tuple[str, str]]:
    events = query_events(root / ".counterpoint" / "events.db", None, "tool_call")
    return [(e.metadata["policy"], e.metadata["decision"]) for e in events if e.action == "permission"]


def test_acp_permission_flag_reaches_run_and_resume(tmp_path: Path) -> None:
    root, spec, config = workspace_with_spec(tmp_path)
    # The user's settings allow; the flag, given for this run, wins.
    (config / "counterpoint" / "settings.json").write_text(json.dumps({"acp_permission": "allow_once"}))

    first = cli("run", spec, "--trust", "--quiet", "--acp-permission", "reject", cwd=root, config=config)

    assert first.returncode == 1, first.stderr
    assert not (root / "output.txt").exists()
    assert permissions(root) == [("reject", "reject_once")]

    second = cli(
        "resume", "last", "--trust", "--quiet", "--acp-permission", "allow_always", cwd=root, config=config
    )

    assert second.returncode == 0, second.stdout + second.stderr
    assert (root / "output.txt").read_text() == "HELLO FLAG\n"
    assert permissions(root) == [("reject", "reject_once"), ("allow_always", "allow_always")]


def test_unknown_acp_permission_is_a_one_line_error(tmp_path: Path) -> None:
    root, spec, config = workspace_with_spec(tmp_path)

    for command in (["run", spec], ["resume", "last"]):
        result = cli(*command, "--trust", "--acp-permission", "yes", cwd=root, config=config)

        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "--acp-permission: invalid choice: 'yes'" in result.stderr
        assert all(policy in result.stderr for policy in PERMISSION_POLICIES)
    assert not (root / ".counterpoint" / "events.db").exists()

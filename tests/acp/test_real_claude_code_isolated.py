"""End to end with a real third-party ACP agent in isolation: Claude Code's ACP adapter from npm
(`tests.support.claude_code_acp`, installed once into the test tools' cache) against a loopback
scripted Anthropic Messages server (`tests.support.anthropic_loopback`), as ``runner: acp`` /
``preset: claude-code`` with ``isolation: worktree``, run by the real ``counterpoint run --trust``
CLI in a git repository the test makes, then reviewed with ``counterpoint diff`` and applied with
``counterpoint apply``.

The model's first answer is one call of the agent's own write tool (found in the request's
``tools``) writing a file in the working directory Claude Code tells the model about; after the
tool result it ends the turn. Offline: the only network is loopback (and the npm registry, once,
for the install).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from counterpoint.engine.log import query_events
from counterpoint_protocol.events import Event

from tests.support.anthropic_loopback import AnthropicLoopback, WriteOnceScript, working_directory
from tests.support.claude_code_acp import install_claude_code_acp
from tests.support.cli import run_cli
from tests.support.git import git, make_repo
from tests.support.processes import wait_until

FAKE_KEY = "sk-ant-loopback-0f1e2d3c4b5a69788796a5b4"
TARGET = "docs/greeting.md"
CONTENT = "# Greeting\n\nHello from Claude Code, in a working copy of its own.\n"
# Variables of the developer's shell that would send Claude Code elsewhere (another endpoint, key,
# model or cloud provider) or make it refuse to start (CLAUDECODE: "inside another Claude Code
# session"): the test's agent gets only its own.
FOREIGN_ENV = ("ANTHROPIC_", "CLAUDE", "AWS_BEARER_TOKEN_BEDROCK", "COUNTERPOINT_")

pytestmark = pytest.mark.timeout(900)  # the first run installs the adapter (npm, ~10 s here)


@pytest.fixture(scope="session")
def claude_code_acp() -> Path:
    return install_claude_code_acp()


@pytest.fixture
def loopback() -> Iterator[tuple[AnthropicLoopback, WriteOnceScript]]:
    script = WriteOnceScript(TARGET, CONTENT)
    with AnthropicLoopback(script) as server:
        yield server, script


def disk_files(root: Path) -> dict[str, bytes]:
    """Every file of the user's working tree (not ``.git``, not ``.counterpoint``): path -> content."""
    found = {}
    for folder, dirs, names in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d not in (".git", ".counterpoint")]
        for name in names:
            path = Path(folder) / name
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def make_repository(repo: Path, agent_env: dict[str, str]) -> Path:
    """A repository with one commit holding the spec, plus a staged new file and an unstaged edit
    of the user's (the run's base takes both; neither may change until apply)."""
    spec = (
        "---\n"
        "feature: Greeting\n"
        "isolation: worktree\n"
        "signals:\n"
        '  greeting_ready: "docs/*.md"\n'
        "---\n"
        "# Greeting\n\n"
        "## writer\n"
        "runner: acp\n"
        "preset: claude-code\n"
        f"env: {json.dumps(agent_env)}\n\n"
        f"Write {TARGET} with a short greeting.\n"
    )
    make_repo(repo, {"README.md": "# Demo\n\nA project.\n", "greeting.agents.md": spec})
    (repo / "notes.txt").write_text("staged by hand\n")
    git(repo, "add", "notes.txt")
    (repo / "README.md").write_text("# Demo\n\nA project, edited and not staged.\n")
    return repo / "greeting.agents.md"


def user_state(repo: Path) -> tuple[dict[str, bytes], bytes, str, str]:
    """The user's working tree (not ``.git``, not ``.counterpoint``), index file, HEAD and branch."""
    return (
        disk_files(repo),
        (repo / ".git" / "index").read_bytes(),
        git(repo, "rev-parse", "HEAD").strip(),
        git(repo, "symbolic-ref", "HEAD").strip(),
    )


def one(events: list[Event], type: str, actor: str | None = None) -> Event:
    found = [e for e in events if e.type == type and (actor is None or e.actor == actor)]
    assert len(found) == 1, (type, actor, found)
    return found[0]


def agent_processes(config_dir: Path) -> list[psutil.Process]:
    """Live processes started with this test's ``CLAUDE_CONFIG_DIR`` (the adapter and its CLI)."""
    found = []
    for proc in psutil.process_iter():
        try:
            ours = proc.environ().get("CLAUDE_CONFIG_DIR") == str(config_dir)
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_claude_code_over_acp_works_in_its_own_copy_and_is_applied(
    tmp_path: Path,
    _user_config: Path,
    claude_code_acp: Path,
    loopback: tuple[AnthropicLoopback, WriteOnceScript],
) -> None:
    server, script = loopback
    config_dir = tmp_path / "claude-config"
    config_dir.mkdir()
    agent_env = {
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "IS_SANDBOX": "1",  # as root, Claude Code refuses its bypass mode without it
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "NO_PROXY": "127.0.0.1,localhost",  # a proxy of the machine's must not take loopback traffic
        "no_proxy": "127.0.0.1,localhost",
    }
    repo = tmp_path / "repo"
    spec = make_repository(repo, agent_env)
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV)}
    # `preset: claude-code` starts `claude-code-acp` from PATH, as after `npm install -g`.
    env |= {
        "PATH": os.pathsep.join([str(claude_code_acp.parent), env.get("PATH", "")]),
        "XDG_CONFIG_HOME": str(_user_config),
        "PYTHONUNBUFFERED": "1",
    }
    before = user_state(repo)
    staged = git(repo, "diff", "--cached")

    ran = run_cli("run", "--trust", spec.name, cwd=repo, env=env, timeout=600)

    outcome = f"stdout:\n{ran.stdout}\nstderr:\n{ran.stderr}\nunknown requests: {server.unknown}"
    assert ran.returncode == 0, outcome
    events = query_events(repo / ".counterpoint" / "events.db")
    started = one(events, "run_started")
    run_id = started.run_id
    assert one(events, "agent_finished", "writer").action == "succeeded", outcome
    assert one(events, "run_finished").action == "succeeded"

    # The agent worked in its working copy: Claude Code's own idea of its working directory (in
    # its system prompt) is the copy, and its one write went there, through ACP, as the agent's.
    copy = Path(one(events, "working_copy_created", "writer").metadata["path"])
    assert copy == repo / ".counterpoint" / "worktrees" / run_id / "writer"
    agent_loop = [r for r in server.messages() if script.write_tool(r.body) is not None]
    assert agent_loop, [r.path for r in server.requests]
    assert {working_directory(r.body) for r in agent_loop} == {str(copy)}
    assert script.calls == [
        {"name": script.calls[0]["name"], "input": {"file_path": str(copy / TARGET), "content": CONTENT}}
    ]
    assert script.calls[0]["name"].endswith("Write")
    assert [(e.action, e.metadata["created"]) for e in events if e.type == "file_written"] == [(TARGET, True)]
    assert all(e.actor == "writer" for e in events if e.type == "file_written")
    assert {r.headers.get("x-api-key") for r in server.messages()} == {FAKE_KEY}

    # Nothing of the run touched the user's working tree, index or branch.
    assert user_state(repo) == before
    assert not (repo / TARGET).exists()

    # The signal names the agent and carries a snapshot of its copy that holds the file.
    signal = one(events, "signal")
    assert (signal.action, signal.actor, signal.metadata["by"]) == ("greeting_ready", "writer", "writer")
    snapshot = signal.metadata["commit"]
    assert git(repo, "show", f"{snapshot}:{TARGET}") == CONTENT
    # ...and the integration branch has it after the merge.
    isolation = started.metadata["isolation"]
    integration = isolation["integration"]
    assert one(events, "agent_merged", "writer").action == "clean"
    assert git(repo, "show", f"{integration}:{TARGET}") == CONTENT
    git(repo, "merge-base", "--is-ancestor", snapshot, integration)

    # Nothing left behind: no copy, no registered worktree, no agent process.
    assert not copy.exists()
    worktrees = (
        repo / ".counterpoint" / "worktrees"
    )  # the last shared checkout (.lower) is kept for the next run
    assert not [p for p in worktrees.iterdir() if p.name != ".gitignore" and not p.name.startswith(".lower")]
    listed = git(repo, "worktree", "list", "--porcelain").splitlines()
    assert [line for line in listed if line.startswith("worktree ")] == [f"worktree {repo}"]
    wait_until(lambda: not agent_processes(config_dir), 60)

    # The fake key reached the model server, never the event log (or anything else Counterpoint keeps).
    cache = repo / ".counterpoint" / "worktrees" / ".lower"  # a checkout of the user's own files
    for path in (repo / ".counterpoint").rglob("*"):
        if path.is_relative_to(cache):
            continue
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path

    # Review and apply with the CLI.
    diff = run_cli("diff", run_id, cwd=repo, env=env, timeout=600)
    assert diff.returncode == 0, diff.stderr
    assert f"diff --git a/{TARGET} b/{TARGET}" in diff.stdout
    assert "+Hello from Claude Code, in a working copy of its own." in diff.stdout
    assert "notes.txt" not in diff.stdout and "README.md" not in diff.stdout  # the user's own, in the base
    applied = run_cli("apply", run_id, cwd=repo, env=env, timeout=600)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert (repo / TARGET).read_text() == CONTENT
    after = disk_files(repo)
    assert {k: v for k, v in after.items() if k != TARGET} == before[0]
    assert git(repo, "diff", "--cached") == staged
    assert git(repo, "rev-parse", "HEAD").strip() == before[2]

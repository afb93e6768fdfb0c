"""An isolated run killed with SIGKILL mid-work: what it left is pruned by the next start, and
resuming it goes on from the same base with the work the agent had snapshotted."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.integration.helpers import emit, think, write, write_spec
from tests.isolation.test_isolated_runs import app_repo, leftovers, user_state
from tests.support.cli import start_cli
from tests.support.git import git

SPEC = """---
isolation: worktree
---
# Crash

## maker
transcript: transcripts/maker.jsonl
emits: first_done
"""


def counterpoint(repo: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERPOINT_")}
    return start_cli(*args, cwd=repo, env=env, stderr=subprocess.STDOUT, start_new_session=True)


def events(repo: Path, type: str) -> list[tuple[str, str | None, dict[str, object]]]:
    db = repo / ".counterpoint" / "events.db"
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            rows = conn.execute(
                "SELECT run_id, actor, metadata FROM events WHERE type = ? ORDER BY id", (type,)
            )
            return [(run, actor, json.loads(meta)) for run, actor, meta in rows]
        except sqlite3.OperationalError:
            return []


def wait_for(repo: Path, type: str, limit: float = 120.0) -> tuple[str, str | None, dict[str, object]]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = events(repo, type)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {type} event within {limit} s")


def test_kill_9_leaves_nothing_the_next_start_does_not_prune_and_resume_goes_on(tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "repo")
    spec = write_spec(
        repo,
        SPEC,
        # The first run is killed during the long think: its snapshot at first_done holds a.txt.
        {"maker": [write("a.txt", "first\n"), emit("first_done"), think(600), write("b.txt", "second\n")]},
    )
    git(repo, "add", spec.name, "transcripts")
    git(repo, "commit", "-qm", "spec")
    before = user_state(repo)
    first = counterpoint(repo, "run", spec.name)
    try:
        run_id, _, snapshot = wait_for(repo, "snapshot")
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        first.wait(60)
    assert leftovers(repo), "a killed run leaves its working copy (mounted) until the next start"
    commit = str(snapshot["commit"])
    assert git(repo, "show", f"{commit}:a.txt") == "first\n"

    # Resuming prunes what the killed run left, keeps its base (the transcript too: it is read in
    # the agent's copy) and starts the agent from its snapshot; fast this time.
    resumed = counterpoint(repo, "resume", "--speed", "10000", run_id)
    out, _ = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, out
    started = [m for r, _, m in events(repo, "run_started") if r == run_id]
    again = [m for r, _, m in events(repo, "run_resumed") if r == run_id]
    assert again and again[0]["isolation"]["base"] == started[0]["isolation"]["base"]  # type: ignore[index]
    copies = [m for r, a, m in events(repo, "working_copy_created") if r == run_id and a == "maker"]
    assert len(copies) == 2
    assert git(repo, "show", f"{copies[1]['start_commit']}:a.txt") == "first\n"
    integration = str(started[0]["isolation"]["integration"])  # type: ignore[index]
    assert git(repo, "show", f"{integration}:a.txt") == "first\n"
    assert git(repo, "show", f"{integration}:b.txt") == "second\n"
    assert leftovers(repo) == []
    assert user_state(repo)[1:] == before[1:]  # index, HEAD, branch; the tree only gained .counterpoint


def test_cancel_leaves_nothing(tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "repo")
    spec = write_spec(repo, SPEC, {"maker": [write("a.txt", "first\n"), emit("first_done"), think(600)]})
    run = counterpoint(repo, "run", spec.name)
    try:
        wait_for(repo, "snapshot")
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the run is cancelled
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    finished = events(repo, "run_finished")
    assert finished and finished[0][2].get("agents") == {"maker": "cancelled"}, out
    assert leftovers(repo) == []

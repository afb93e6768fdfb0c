"""``counterpoint diff / apply / discard`` as a user runs them: the real CLI as a subprocess, on a
real repository holding an isolated run (its branches and events made by `tests.support.isolated_run`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli, user_env
from tests.support.isolated_run import RUN_ID, build_isolated_run, git, make_repo, record, recorded_run


def cli(*args: str, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env=user_env(config))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def test_diff_prints_the_patch_the_stat_or_json(repo: Path, _user_config: Path) -> None:
    recorded_run(repo)
    patch = cli("diff", RUN_ID, cwd=repo, config=_user_config)
    assert patch.returncode == 0, patch.stderr
    assert "diff --git a/app/models.py b/app/models.py" in patch.stdout and "+line 2 changed" in patch.stdout
    assert "\x1b[" not in patch.stdout  # no colour
    stat = cli("diff", "last", "--stat", cwd=repo, config=_user_config)
    assert stat.returncode == 0, stat.stderr
    assert "modified  app/models.py  +3 -2" in stat.stdout
    assert "renamed   name.txt -> renamed.txt  +0 -0" in stat.stdout
    assert "logo.bin  binary" in stat.stdout
    assert stat.stdout.rstrip().endswith("6 files changed, +5 -3")
    agent = cli("diff", RUN_ID, "frontend", "--json", cwd=repo, config=_user_config)
    assert agent.returncode == 0, agent.stderr
    parsed = json.loads(agent.stdout)
    assert parsed["agent"] == "frontend"
    assert {f["path"] for f in parsed["files"]} == {"web/page.html", "logo.bin", "renamed.txt"}


def test_apply_then_discard(repo: Path, _user_config: Path) -> None:
    recorded_run(repo)
    (repo / "README.md").write_text("# mine\n")
    applied = cli("apply", RUN_ID, cwd=repo, config=_user_config)
    assert applied.returncode == 0, applied.stderr
    assert f"Applied run {RUN_ID} to your working tree (nothing staged or committed)" in applied.stdout
    assert (repo / "app" / "schema.py").read_text() == "SCHEMA = 1\n"
    assert (repo / "README.md").read_text() == "# mine\n"
    assert git(repo, "diff", "--cached") == ""
    again = cli("apply", RUN_ID, cwd=repo, config=_user_config)
    assert again.returncode != 0 and "already applied" in again.stderr

    unconfirmed = cli("discard", RUN_ID, cwd=repo, config=_user_config)
    assert unconfirmed.returncode != 0 and "--yes" in unconfirmed.stderr
    assert git(repo, "for-each-ref", f"refs/heads/counterpoint/{RUN_ID}/") != ""
    discarded = cli("discard", RUN_ID, "--yes", cwd=repo, config=_user_config)
    assert discarded.returncode == 0, discarded.stderr
    assert f"Discarded run {RUN_ID}: deleted 5 refs" in discarded.stdout  # 3 branches, base, applied
    assert (
        git(repo, "for-each-ref", f"refs/heads/counterpoint/{RUN_ID}/", f"refs/counterpoint/{RUN_ID}/") == ""
    )
    gone = cli("diff", RUN_ID, cwd=repo, config=_user_config)
    assert gone.returncode != 0 and "discarded" in gone.stderr


def test_a_conflicting_working_tree_is_refused_with_the_files(repo: Path, _user_config: Path) -> None:
    recorded_run(repo)
    (repo / "app" / "models.py").write_text("mine entirely\n")
    refused = cli("apply", RUN_ID, cwd=repo, config=_user_config)
    assert refused.returncode != 0
    assert refused.stderr.startswith(f"counterpoint: cannot apply run {RUN_ID}: your working tree changed")
    assert "app/models.py" in refused.stderr
    assert (repo / "app" / "models.py").read_text() == "mine entirely\n"
    assert not (repo / "app" / "schema.py").exists()


def test_bad_input_gets_one_clear_line(repo: Path, tmp_path: Path, _user_config: Path) -> None:
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    no_log = cli("diff", RUN_ID, cwd=nowhere, config=_user_config)
    assert no_log.returncode == 2 and "no event log" in no_log.stderr
    recorded_run(repo)
    unknown = cli("apply", "20990101-000000-zzzzzz", cwd=repo, config=_user_config)
    assert unknown.returncode == 2 and "no such run: 20990101-000000-zzzzzz" in unknown.stderr
    agent = cli("diff", RUN_ID, "nobody", cwd=repo, config=_user_config)
    assert agent.returncode == 2 and "no isolated agent 'nobody'" in agent.stderr

    shared = make_repo(tmp_path / "shared")
    run = build_isolated_run(shared, run_id="20261202-101600-shared")
    run.events[0][3].pop("isolation")
    asyncio.run(record(run))
    not_isolated = cli("diff", "last", cwd=shared, config=_user_config)
    assert not_isolated.returncode == 2 and "did not isolate its agents" in not_isolated.stderr

    os.rename(repo / ".git", repo / "git-moved")
    no_repo = cli("diff", RUN_ID, cwd=repo, config=_user_config)
    assert no_repo.returncode == 2 and "not in a git repository" in no_repo.stderr


def test_a_live_run_is_not_applied_or_discarded(repo: Path, _user_config: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        recorded_run(repo, pid=other.pid, finished=False)
        for command in (("apply", RUN_ID), ("discard", RUN_ID, "--yes")):
            done = cli(*command, cwd=repo, config=_user_config)
            assert done.returncode == 2 and f"run {RUN_ID} is still live" in done.stderr, done.stderr
    finally:
        other.kill()
        other.wait()
    assert not (repo / "app" / "schema.py").exists()


def test_a_real_isolated_run_reviewed_applied_and_discarded(tmp_path: Path, _user_config: Path) -> None:
    """`counterpoint run` of two replayed isolated agents (frontend starts from backend's snapshot
    at ``schema_ready``), then diff, report, apply and discard: the user's staged change stays
    staged, their unstaged edit stays, and nothing of the run is left."""
    repo = tmp_path / "repo"
    (repo / "transcripts").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text(".counterpoint/\n")
    (repo / "app.py").write_text("".join(f"line {n}\n" for n in range(1, 31)))
    backend = [
        {"action": "write_file", "path": "schema.py", "content": "SCHEMA = 1\n"},
        {"action": "edit_file", "path": "app.py", "search": "line 5\n", "replace": "line 5 backend\n"},
        {"action": "emit", "signal": "schema_ready"},
    ]
    frontend = [
        {"action": "read_file", "path": "schema.py"},
        {"action": "write_file", "path": "web/page.html", "content": "<h1>hi</h1>\n"},
    ]
    for name, steps in (("backend", backend), ("frontend", frontend)):
        (repo / "transcripts" / f"{name}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    (repo / "demo.agents.md").write_text(
        "---\nfeature: Demo\nisolation: worktree\n---\n# Demo\n\n"
        "## backend\ntranscript: transcripts/backend.jsonl\nemits: schema_ready\n- schema\n\n"
        "## frontend\ntranscript: transcripts/frontend.jsonl\nneeds: schema_ready\n- page\n"
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=U", "-c", "user.email=u@e", "commit", "-qm", "start")
    (repo / "notes.txt").write_text("staged by hand\n")
    git(repo, "add", "notes.txt")
    (repo / "app.py").write_text((repo / "app.py").read_text() + "mine\n")
    staged = git(repo, "diff", "--cached")

    ran = cli("run", "demo.agents.md", "--quiet", cwd=repo, config=_user_config)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not (repo / "schema.py").exists()  # nothing reaches the working tree before apply
    stat = cli("diff", "last", "frontend", "--stat", cwd=repo, config=_user_config)
    assert stat.returncode == 0 and "added  web/page.html  +1 -0" in stat.stdout, stat.stdout + stat.stderr
    assert "schema.py" not in stat.stdout  # backend's snapshot is where frontend started
    report = cli("report", cwd=repo, config=_user_config)
    assert "Merge order: backend -> frontend." in report.stdout

    applied = cli("apply", "last", cwd=repo, config=_user_config)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "schema.py").read_text() == "SCHEMA = 1\n"
    assert (repo / "web" / "page.html").exists()
    app = (repo / "app.py").read_text()
    assert "line 5 backend\n" in app and app.endswith("mine\n")
    assert git(repo, "diff", "--cached") == staged

    discarded = cli("discard", "last", "--yes", cwd=repo, config=_user_config)
    assert discarded.returncode == 0, discarded.stderr
    assert git(repo, "for-each-ref", "refs/counterpoint/", "refs/heads/counterpoint/") == ""
    assert git(repo, "worktree", "list").count("\n") == 1

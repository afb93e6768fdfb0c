"""``counterpoint plan`` as a new user runs it: a real subprocess in a project, the model behind a
loopback server named by the user settings; clear errors and non-zero exits when it cannot plan."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.llm.conftest import llm_settings
from tests.llm.fake_llm_server import FakeLLMServer
from tests.support.cli import run_cli, start_cli, user_env
from tests.support.director import DirectorScript

REQUEST = "Build a course enrollment feature"


def settings_home(tmp_path: Path, settings: dict[str, object]) -> Path:
    home = tmp_path / "config"
    (home / "counterpoint").mkdir(parents=True)
    (home / "counterpoint" / "settings.json").write_text(json.dumps(settings))
    return home


def plan(project: Path, config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("plan", *args, cwd=project, env=user_env(config, **env))


def plan_finished(project: Path) -> dict[str, Any]:
    """The one ``plan_finished`` event of the project's log, as ``counterpoint events`` prints it."""
    events = run_cli("events", "--run", "all", "--type", "plan_finished", "--json", cwd=project, timeout=60)
    (finished,) = [json.loads(line) for line in events.stdout.splitlines()]
    return dict(finished)


def test_plan_writes_a_checked_spec_and_says_what_it_predicts(
    project: Path, server: FakeLLMServer, tmp_path: Path
) -> None:
    model = f"{server.flavor}:director-test"
    server.responder = DirectorScript(model)
    prices = {model: {"input": 3.0, "output": 15.0}}
    config = settings_home(
        tmp_path, {"llm": llm_settings(server), "director": {"model": model}, "prices": prices}
    )
    done = plan(project, config, REQUEST)
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "wrote course-enrollment.agents.md: it passes counterpoint check (2 drafts)" in out
    assert "5 agents: backend, frontend, quality, docs, integrator (max_parallel 3)" in out
    assert "predicted: critical path backend → " in out and "predicted speed-up 2.13x" in out
    assert (
        "4 requests" in out
        and "next: read it, edit it, then `counterpoint run course-enrollment.agents.md`" in out
    )
    # Progress on stderr: what it read, each draft and its findings.
    assert "director: > read_file(path=pyproject.toml)" in done.stderr
    assert "director: draft 1: 4 errors, 0 warnings" in done.stderr
    # The spec it wrote passes `counterpoint check` as a user runs it.
    check = run_cli("check", "course-enrollment.agents.md", cwd=project, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # The plan is in the event log.
    finished = plan_finished(project)
    assert finished["action"] == "ready" and finished["metadata"]["rounds"] == 2
    assert finished["metadata"]["cost_usd"] > 0
    # A second plan of the same request never replaces the first: --out or a new name.
    again = plan(project, config, REQUEST, "--quiet")
    assert again.returncode == 0, again.stderr
    assert "wrote course-enrollment-2.agents.md" in again.stdout and again.stderr == ""


def test_a_plan_that_still_fails_is_written_with_its_findings_and_exit_1(
    project: Path, server: FakeLLMServer, tmp_path: Path
) -> None:
    model = f"{server.flavor}:director-test"
    server.responder = DirectorScript(model, repairs=False, look=False)
    config = settings_home(tmp_path, {"llm": llm_settings(server)})
    done = plan(
        project, config, REQUEST, "--model", model, "--rounds", "2", "--out", "plans/enroll.agents.md"
    )
    assert done.returncode == 1, done.stderr + done.stdout
    assert (project / "plans" / "enroll.agents.md").is_file()
    assert "wrote plans/enroll.agents.md, but it still has 4 errors after 2 drafts" in done.stdout
    assert "plans/enroll.agents.md:6:1: error: unknown front matter key 'max_paralel'" in done.stdout
    assert "[dependency-cycle]" in done.stdout and "[unknown-signal]" in done.stdout
    # --out never replaces a file without --force.
    refused = plan(project, config, REQUEST, "--model", model, "--out", "plans/enroll.agents.md")
    assert refused.returncode == 1 and "exists" in refused.stderr and "--force" in refused.stderr


@pytest.mark.parametrize("flavor", ["openai"], indirect=True)
def test_clear_errors(project: Path, server: FakeLLMServer, tmp_path: Path) -> None:
    empty = settings_home(tmp_path / "empty", {})
    no_model = plan(project, empty, REQUEST)
    assert no_model.returncode == 1
    assert "no model configured for the director: pass --model" in no_model.stderr
    assert "Traceback" not in no_model.stderr

    no_key = plan(project, empty, REQUEST, "--model", "anthropic:claude-sonnet-4-5")
    assert no_key.returncode == 1 and "no API key for anthropic:claude-sonnet-4-5" in no_key.stderr

    down = settings_home(
        tmp_path / "down", {"llm": {"openai_base_url": "http://127.0.0.1:9/v1", "max_retries": 0}}
    )
    unreachable = plan(project, down, REQUEST, "--model", "openai:m")
    assert unreachable.returncode == 1
    assert (
        "cannot reach http://127.0.0.1:9/v1" in unreachable.stderr and "Traceback" not in unreachable.stderr
    )

    model = "openai:director-test"
    server.responder = DirectorScript(model, look=False)
    priced = settings_home(
        tmp_path / "priced", {"llm": llm_settings(server), "prices": {model: {"input": 3.0, "output": 15.0}}}
    )
    broke = plan(project, priced, REQUEST, "--model", model, "--budget-usd", "0.0000001")
    assert broke.returncode == 1
    assert "the director's budget is spent" in broke.stderr and "--budget-usd" in broke.stderr
    assert "the last draft (4 errors) is in course-enrollment.agents.md" in broke.stderr

    bad_out = plan(project, priced, REQUEST, "--model", model, "--out", "notes.md")
    assert bad_out.returncode == 1 and "a spec's name ends in .agents.md" in bad_out.stderr


def test_ctrl_c_cancels_the_plan(project: Path, server: FakeLLMServer, tmp_path: Path) -> None:
    model = f"{server.flavor}:director-test"
    script = DirectorScript(model)
    script.hold = threading.Event()
    server.responder = script
    config = settings_home(tmp_path, {"llm": llm_settings(server), "director": {"model": model}})
    proc = start_cli("plan", REQUEST, cwd=project, env=user_env(config))
    try:
        # A busy machine may take long to import the model SDKs: wait while the plan lives.
        deadline = time.monotonic() + 300
        while not script.held.wait(0.2) and proc.poll() is None and time.monotonic() < deadline:
            pass
        assert script.held.is_set(), (
            f"the model was never asked: {proc.poll()} {proc.communicate()[1] if proc.poll() is not None else ''}"
        )
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        script.hold.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "planning cancelled" in err and "Traceback" not in err
    assert not list(project.glob("*.agents.md"))
    assert plan_finished(project)["action"] == "cancelled"

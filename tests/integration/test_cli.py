"""The ``counterpoint`` CLI as a user runs it: real subprocesses, real specs, the real SQLite event log."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.log import query_events

from tests.conftest import backend_waits_for_the_first_test_report, copy_example
from tests.support.cli import run_cli, start_cli, user_env
from tests.support.processes import survivors, wait_until

EVENT_KEYS = {"id", "run_id", "type", "actor", "action", "metadata", "timestamp"}


def cli(*args: str | Path, cwd: Path, config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env=user_env(config), timeout=timeout)


def write_spec(
    folder: Path, name: str, text: str, transcripts: dict[str, list[dict[str, Any]]] | None = None
) -> Path:
    """A spec in its own git workspace, with replay transcripts next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / ".git").exists():
        subprocess.run(["git", "init", "-q", str(folder)], check=True)
    for file, steps in (transcripts or {}).items():
        (folder / file).write_text("".join(json.dumps(step) + "\n" for step in steps))
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def events_in(workspace: Path, type: str | None = None) -> list[Any]:
    """The workspace's events so far (none while the run is still creating its log)."""
    db = workspace / ".counterpoint" / "events.db"
    try:
        return query_events(db, None, type) if db.exists() else []
    except sqlite3.OperationalError:  # the file exists, its tables not yet
        return []


@pytest.fixture
def config(_user_config: Path) -> Path:
    return _user_config


# -- check ----------------------------------------------------------------------------------------

BROKEN_SPEC = """
---
feature: Broken
colour: blue
---
## backend
runner: replay
transcript: backend.jsonl
emits: schema_ready
- build it

## frontend
needs: schema_redy
runner: replay
transcript: frontend.jsonl
- use it
"""


def test_check_prints_findings_with_positions_and_exits_1(tmp_path: Path, config: Path) -> None:
    say = [{"action": "say", "text": "hi"}]
    write_spec(tmp_path, "broken.agents.md", BROKEN_SPEC, {"backend.jsonl": say, "frontend.jsonl": say})
    result = cli("check", "broken.agents.md", cwd=tmp_path, config=config)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    for line in lines:
        assert re.match(r"^broken\.agents\.md:\d+:\d+: (error|warning): \S", line), line
    errors = [line for line in lines if ": error: " in line]
    assert any(line.startswith("broken.agents.md:3:1: error:") and "colour" in line for line in errors), lines
    assert any(
        line.startswith("broken.agents.md:12:8: error:") and "schema_redy" in line and "did you mean" in line
        for line in errors
    ), lines
    assert "errors" in result.stderr


def test_check_passes_on_the_example(example: Path, config: Path) -> None:
    result = cli("check", example, cwd=example.parent, config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": error:" not in result.stdout
    assert "0 errors" in result.stderr


def test_check_of_a_missing_file_says_so(tmp_path: Path, config: Path) -> None:
    result = cli("check", "nothing.agents.md", cwd=tmp_path, config=config)
    assert result.returncode == 2
    assert "nothing.agents.md: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_of_a_missing_file_says_so(tmp_path: Path, config: Path) -> None:
    result = cli("run", "nothing.agents.md", cwd=tmp_path, config=config)
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert not (tmp_path / ".counterpoint").exists()


# -- run the example, then look at it -----------------------------------------------------------


@pytest.fixture(scope="module")
def example_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path, subprocess.CompletedProcess[str]]]:
    """The example, run once for this module: (workspace, user config, finished process).

    "Found early" is proved by ordering (see `backend_waits_for_the_first_test_report`).
    """
    config = tmp_path_factory.mktemp("xdg")
    spec = copy_example(tmp_path_factory.mktemp("run") / "course-enrollment")
    backend_waits_for_the_first_test_report(spec)
    result = cli("run", "--trust", "--speed", "2", spec.name, cwd=spec.parent, config=config, timeout=90)
    yield spec.parent, config, result


def test_run_example_succeeds_and_writes_reports(
    example_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    workspace, _, result = example_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert (workspace / ".counterpoint" / "events.db").is_file()
    runs = list((workspace / ".counterpoint" / "runs").iterdir())
    assert len(runs) == 1
    for name in ("report.json", "report.md", "report.html"):
        assert (runs[0] / name).stat().st_size > 0
    assert "<html" in (runs[0] / "report.html").read_text().lower()
    assert "succeeded" in result.stdout
    # The software the agents wrote exists.
    assert (workspace / "app" / "enrollment" / "schema.py").is_file()


def test_example_report_json(example_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    workspace, _, _ = example_run
    (folder,) = (workspace / ".counterpoint" / "runs").iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert report["run_id"] == folder.name
    assert report["status"] == "succeeded"
    assert report["wall_s"] > 0
    assert report["busy_s"] > report["wall_s"]  # agents overlapped
    assert report["parallelism"] == pytest.approx(report["busy_s"] / report["wall_s"], rel=0.05)
    assert report["critical_path"]["agents"]
    assert set(report["critical_path"]["agents"]) <= {"backend", "frontend", "quality", "docs", "integrator"}
    assert {a["name"] if isinstance(a, dict) else a for a in report["agents"]} >= {
        "backend",
        "frontend",
        "quality",
        "docs",
        "integrator",
    }
    context = report["context"]
    assert isinstance(context["tokens_loaded"], int) and context["tokens_loaded"] > 0
    assert context["tokens_per_agent_load"] == context["tokens_loaded"] * context["agents"]
    integration = report["integration"]
    assert integration["found"] >= 1
    assert integration["early"] >= 1
    assert integration["fixed"] >= 1
    assert integration["open"] == 0


def test_events_json_lines_have_exactly_the_event_keys(
    example_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    workspace, config, _ = example_run
    result = cli("events", "--json", cwd=workspace, config=config)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events
    for event in events:
        assert set(event) == EVENT_KEYS
        assert isinstance(event["metadata"], dict)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,}", event["timestamp"])
    types = [e["type"] for e in events]
    assert types[0] == "run_started"
    assert types[-1] == "run_finished"
    for needed in ("agent_started", "signal", "agent_output", "agent_finished"):
        assert needed in types
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert len({e["run_id"] for e in events}) == 1


def test_events_filtered_by_type(example_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    workspace, config, _ = example_run
    result = cli("events", "--type", "signal", "--json", cwd=workspace, config=config)
    assert result.returncode == 0, result.stderr
    signals = [json.loads(line) for line in result.stdout.splitlines()]
    assert {s["type"] for s in signals} == {"signal"}
    fired = {s["action"]: s for s in signals}
    assert {"schema_ready", "mutations_ready", "tests_ready"} <= set(fired)
    assert fired["schema_ready"]["actor"] is None  # fired by the file appearing
    assert fired["schema_ready"]["metadata"]["path"] == "app/enrollment/schema.py"
    assert fired["mutations_ready"]["actor"] == "backend"
    plain = cli("events", "--type", "signal", cwd=workspace, config=config)
    assert plain.returncode == 0
    assert len(plain.stdout.splitlines()) == len(signals)
    assert "schema_ready" in plain.stdout


def test_report_prints_it_again(example_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    workspace, config, _ = example_run
    (folder,) = (workspace / ".counterpoint" / "runs").iterdir()
    result = cli("report", cwd=workspace, config=config)
    assert result.returncode == 0, result.stderr
    assert folder.name in result.stdout
    assert "Critical path" in result.stdout
    assert "report.html" in result.stdout
    as_json = cli("report", folder.name, "--json", cwd=workspace, config=config)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["run_id"] == folder.name


def test_events_and_report_without_a_log(tmp_path: Path, config: Path) -> None:
    for command in ("events", "report"):
        result = cli(command, cwd=tmp_path, config=config)
        assert result.returncode == 2
        assert "no event log" in result.stderr


# -- runs that go wrong ---------------------------------------------------------------------------


def test_run_with_a_failing_agent_exits_1(tmp_path: Path, config: Path) -> None:
    spec = write_spec(
        tmp_path,
        "fails.agents.md",
        """
        ---
        feature: Fails
        ---
        ## good
        transcript: good.jsonl
        - fine

        ## bad
        transcript: bad.jsonl
        - breaks

        ## after_bad
        needs: bad
        transcript: good.jsonl
        - never runs
        """,
        {
            "good.jsonl": [{"action": "write_file", "path": "good.txt", "content": "ok"}],
            "bad.jsonl": [{"action": "fail", "message": "the build is broken"}],
        },
    )
    result = cli("run", spec.name, cwd=tmp_path, config=config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the build is broken" in result.stdout + result.stderr
    finished = {e.actor: e.action for e in events_in(tmp_path, "agent_finished")}
    assert finished == {"good": "succeeded", "bad": "failed", "after_bad": "blocked"}
    (run_finished,) = events_in(tmp_path, "run_finished")
    assert run_finished.action == "failed"
    assert (tmp_path / "good.txt").read_text() == "ok"


def test_command_agent_without_trust_does_not_run(tmp_path: Path, config: Path) -> None:
    spec = write_spec(
        tmp_path,
        "cmd.agents.md",
        """
        ---
        feature: Commands
        ---
        ## maker
        runner: command
        command: touch marker.txt
        - make a marker
        """,
    )
    result = cli("run", spec.name, cwd=tmp_path, config=config)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "--trust" in output
    assert "COUNTERPOINT_TRUST=1" in output
    assert not (tmp_path / "marker.txt").exists()
    (finished,) = events_in(tmp_path, "agent_finished")
    assert finished.action == "failed"
    assert "consent" in finished.metadata["error"]
    assert not (config / "counterpoint" / "trust.json").exists()


def test_events_follow_ends_when_the_run_ends(tmp_path: Path, config: Path) -> None:
    spec = write_spec(
        tmp_path,
        "slow.agents.md",
        """
        ---
        feature: Slow
        ---
        ## slow
        transcript: slow.jsonl
        - take a while
        """,
        {
            "slow.jsonl": [
                {"action": "think", "seconds": 1.5, "text": "thinking"},
                {"action": "say", "text": "done thinking"},
            ]
        },
    )
    run = start_cli("run", spec.name, cwd=tmp_path, env=user_env(config))
    try:
        wait_until(lambda: bool(events_in(tmp_path, "agent_started")))
        assert not events_in(tmp_path, "run_finished")
        follow = start_cli("events", "--follow", "--json", cwd=tmp_path, env=user_env(config))
        out, err = follow.communicate(timeout=30)
        assert follow.returncode == 0, err
        assert run.wait(timeout=30) == 0
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["type"] == "run_finished"
    assert any(
        e["type"] == "agent_output"
        and "done thinking" in (e["metadata"].get("lines") or [e["metadata"].get("line")])
        for e in events
    )


# Not tested: a second `run` of a spec while another process runs it. Today that is allowed (the
# engine refuses a second live run of one spec only within one process, `RunRefused`); both runs
# then share the workspace and its event log.


def test_ctrl_c_cancels_the_run_and_kills_grandchildren(tmp_path: Path, config: Path) -> None:
    marker = f"{os.getpid() % 10000 + 80000}.{time.monotonic_ns() % 100000}"
    spec = write_spec(
        tmp_path,
        "spin.agents.md",
        f"""
        ---
        feature: Spin
        ---
        ## spinner
        runner: command
        command: sleep {marker} & while true; do echo tick; sleep 0.1; done
        - spin until stopped

        ## after
        needs: spinner
        transcript: after.jsonl
        - never starts
        """,
        {"after.jsonl": [{"action": "say", "text": "after"}]},
    )
    run = start_cli("run", "--trust", spec.name, cwd=tmp_path, env=user_env(config))
    try:
        wait_until(lambda: bool(survivors(marker)) and bool(events_in(tmp_path, "agent_output")))
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130, out + err
    (finished,) = events_in(tmp_path, "run_finished")
    assert finished.action == "cancelled"
    statuses = {e.actor: e.action for e in events_in(tmp_path, "agent_finished")}
    assert statuses == {"spinner": "cancelled", "after": "cancelled"}
    deadline = time.monotonic() + 5
    while survivors(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(marker) == []
    assert "cancelled" in out

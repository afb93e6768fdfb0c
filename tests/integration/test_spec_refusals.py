"""Hostile names, outside paths and bad transcripts, end to end: ``counterpoint check`` shows each
at its line and column, ``counterpoint run`` refuses before anything runs, and a check whose report
file is outside the workspace is refused at run time even when validation was skipped.

Real subprocesses of the CLI, real files; the test looks at the disk afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunOptions

from tests.integration.test_cli import cli, write_spec


def test_check_shows_each_problem_at_its_line_and_column(tmp_path: Path, _user_config: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "t.jsonl").parent.mkdir(parents=True)
    (ws / "t.jsonl").write_text(
        json.dumps({"action": "say", "text": "ok"})
        + "\n"
        + json.dumps({"action": "think", "seconds": "abc"})
        + "\n"
    )
    spec = write_spec(
        ws,
        "x.agents.md",
        """\
        ---
        context: [../secret.md]
        ---
        ## ../../../../x
        runner: command
        command: 'true'
        cwd: ../../..
        ## player
        transcript: t.jsonl
        ## leak
        transcript: /etc/passwd
        """,
    )
    result = cli("check", spec.name, cwd=ws, config=_user_config)
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    expected = [
        "x.agents.md:2:11: error: context file '../secret.md' is outside the workspace",
        "x.agents.md:4:4: error: agent name '../../../../x' is not a valid name",
        "x.agents.md:7:6: error: working folder (cwd) '../../..' is outside the workspace",
        "x.agents.md:9:13: error: transcript t.jsonl:2: think: 'seconds': ",
        "x.agents.md:11:13: error: transcript '/etc/passwd' is outside the workspace",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, result.stdout)
    assert "Traceback" not in result.stdout + result.stderr


def test_run_refuses_a_spec_with_an_outside_cwd_or_transcript(tmp_path: Path, _user_config: Path) -> None:
    ws = tmp_path / "deep" / "er" / "ws"
    spec = write_spec(
        ws,
        "x.agents.md",
        f"""\
        ## builder
        runner: command
        command: {sys.executable} -c "open('escaped', 'w')"
        cwd: ../../..
        ## leak
        transcript: /etc/passwd
        """,
    )
    result = cli("run", "--trust", spec.name, cwd=ws, config=_user_config)
    assert result.returncode != 0
    assert "x.agents.md:4:6: error: working folder (cwd)" in result.stdout
    assert "x.agents.md:6:13: error: transcript '/etc/passwd'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not list(tmp_path.rglob("escaped"))
    assert not (ws / ".counterpoint" / "runs").exists()  # nothing started


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")


@pytest.mark.usefixtures("trusted")
async def test_a_check_report_file_outside_the_workspace_is_refused_at_run_time(tmp_path: Path) -> None:
    victim = tmp_path / "victim.xml"
    victim.write_text("<keep/>")
    ws = tmp_path / "ws"
    spec_path = write_spec(
        ws,
        "x.agents.md",
        f"""\
        ---
        checks:
          - name: tests
            run: {sys.executable} -c "open('ran', 'w')"
            format: junit:../victim.xml
        ---
        ## only
        transcript: t.jsonl
        """,
    )
    (ws / "t.jsonl").write_text(json.dumps({"action": "say", "text": "hi"}) + "\n")
    spec = await read_spec(spec_path, check_files=False)  # validation of files skipped
    engine = await Engine.open(ws)
    try:
        run = engine.create_run(spec, RunOptions())
        await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        await engine.aclose()
    assert victim.read_text() == "<keep/>"  # not deleted before the check ran
    assert not (ws / "ran").exists()  # and the check did not run
    findings = [e for e in events if e.type == "finding" and e.actor == "tests"]
    assert findings and "outside the workspace" in str(findings[0].metadata.get("message"))
    subprocess.run(["git", "status"], cwd=ws, check=True, capture_output=True)

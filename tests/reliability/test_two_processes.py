"""Two processes on one workspace: a second live run of a spec is refused; the log stays whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from counterpoint.engine.engine import Engine, RunRefused
from counterpoint.engine.run.lock import pid_alive

from tests.support.harness import (
    Framed,
    cli,
    events_of,
    integrity,
    long_workspace,
    resume_workspace,
    runs_table,
    wait_until,
)


def test_second_cli_run_is_refused_then_allowed_once_the_first_died(tmp_path: Path) -> None:
    spec = long_workspace(tmp_path)
    db = tmp_path / ".counterpoint" / "events.db"
    first = cli("run", str(spec), "--quiet", cwd=tmp_path)
    try:
        wait_until(lambda: bool(events_of(db, "agent_started")))
        second = cli("run", str(spec), "--quiet", cwd=tmp_path)
        _out, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert "already live in another process" in err and str(first.pid) in err
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=10)
    # The first process is dead: its row is stale, a new run starts (and is cancelled here).
    (tmp_path / "worker.jsonl").write_text(json.dumps({"action": "think", "seconds": 0.1}) + "\n")
    third = cli("run", str(spec), "--quiet", cwd=tmp_path)
    _out, err = third.communicate(timeout=30)
    assert third.returncode == 0, err
    statuses = sorted(runs_table(db).values())
    assert statuses == ["interrupted", "succeeded"]
    assert integrity(db) == "ok"


def test_language_server_refuses_a_spec_live_in_a_cli(tmp_path: Path) -> None:
    spec = long_workspace(tmp_path)
    db = tmp_path / ".counterpoint" / "events.db"
    first = cli("run", str(spec), "--quiet", cwd=tmp_path)
    server = Framed(tmp_path)
    try:
        server.initialize()
        wait_until(lambda: bool(events_of(db, "agent_started")))
        reply = server.request(
            "workspace/executeCommand", {"command": "counterpoint.run", "arguments": [{"uri": spec.as_uri()}]}
        )
        assert "error" in reply, reply
        assert "already live in another process" in reply["error"]["message"]
        assert server.status_ok()
    finally:
        server.close()
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert runs_table(db) and set(runs_table(db).values()) == {"cancelled"}


def test_two_runs_of_different_specs_share_one_log(tmp_path: Path) -> None:
    spec_a = resume_workspace(tmp_path)
    spec_b = long_workspace(tmp_path, seconds=0.5)
    procs = [cli("run", str(s), "--quiet", cwd=tmp_path) for s in (spec_a, spec_b)]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    db = tmp_path / ".counterpoint" / "events.db"
    assert integrity(db) == "ok"
    assert sorted(runs_table(db).values()) == ["succeeded", "succeeded"]
    finished = events_of(db, "run_finished")
    assert len(finished) == 2 and {f[2] for f in finished} == {"succeeded"}


HOLDER = """
import os, sys, time
from pathlib import Path
from counterpoint.engine.run.lock import try_lock

lock = try_lock(Path(sys.argv[1]), Path(sys.argv[2]))
lock.set_run("elsewhere")
os.write(1, b"locked\\n")
time.sleep(600)
"""


async def test_the_spec_lock_decides_and_stale_rows_are_marked_interrupted(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    spec = tmp_path / "x.agents.md"
    engine = await Engine.open(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / ".counterpoint"), str(spec.resolve())],
        stdout=subprocess.PIPE,
    )
    try:
        # Rows say "running" (a live pid that holds no lock, and ours): nothing holds the lock.
        await engine.log.record_run("stale", str(spec), sleeper.pid)
        await engine.log.record_run("mine", str(spec), os.getpid())
        assert pid_alive(sleeper.pid)
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with pytest.raises(RunRefused, match=f"run elsewhere, pid {holder.pid}"):
            await engine.ensure_no_live_run(spec)
        await engine.ensure_no_live_run(tmp_path / "another.agents.md")  # other specs are free
        holder.kill()
        holder.wait()
        await engine.ensure_no_live_run(spec)  # the holder died: the kernel freed its lock
        statuses = {r.run_id: r.status for r in await engine.log.runs()}
        assert statuses == {"stale": "interrupted", "mine": "interrupted"}
    finally:
        for proc in (sleeper, holder):
            proc.kill()
            proc.wait()
        await engine.aclose()

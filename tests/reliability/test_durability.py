"""Durability: events reported as appended survive kill -9; a killed run resumes to success."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import cli, kill_and_resume, kill_appender_many_times, resume_workspace


def test_every_reported_event_survives_kill_9_at_random_moments(tmp_path: Path) -> None:
    # Counted, not timed: every one of the kills happens however slowly a busy machine starts the
    # appenders (the deadline is only a safety net under pytest's own timeout).
    result = kill_appender_many_times(tmp_path, kills=20, seed=11, max_seconds=150)
    assert result["kills"] == 20, result
    assert result["reported"] > 0, result
    assert result["lost"] == 0, result
    assert result["integrity"] == "ok"
    # Events committed but not yet reported when the kill came may be stored too; never fewer.
    assert result["stored"] >= result["reported"]


def test_killed_run_resumes_without_rerunning_what_succeeded(tmp_path: Path) -> None:
    result = kill_and_resume(tmp_path / "ws")
    assert result["exit"] == 0, result["stderr"]
    # fast and side had succeeded before the kill: not run again; slow was running: started over.
    assert result["starts"] == {"fast": 1, "side": 1, "slow": 2, "last": 1}
    report = result["report"]
    assert report["status"] == "succeeded"
    assert {a["name"]: a["status"] for a in report["agents"]} == dict.fromkeys(
        ("fast", "side", "slow", "last"), "succeeded"
    )
    # The wall time covers both segments (slow alone thinks 1.5 s) but not the pause between them,
    # and the critical path fits inside it.
    assert report["wall_s"] >= 1.5
    assert report["critical_path"]["length_s"] <= report["wall_s"] + 0.05
    assert result["integrity"] == "ok"
    assert "succeeded" in result["stdout"]


def test_resume_refuses_unknown_and_finished_runs(tmp_path: Path) -> None:
    spec = resume_workspace(tmp_path)
    done = cli("run", str(spec), "--quiet", cwd=tmp_path)
    _out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    unknown = cli("resume", "no-such-run", "--workspace", str(tmp_path), cwd=tmp_path)
    _out, err = unknown.communicate(timeout=30)
    assert unknown.returncode == 2 and "no such run: no-such-run" in err
    finished = cli("resume", "last", "--workspace", str(tmp_path), cwd=tmp_path)
    _out, err = finished.communicate(timeout=30)
    assert finished.returncode == 2 and "every agent of run" in err

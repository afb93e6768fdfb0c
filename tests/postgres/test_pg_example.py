"""The example spec (examples/course-enrollment, replayed offline) run with its events in PostgreSQL
gives the report it gives with the workspace's SQLite file: the same agents and outcomes, signals,
findings found early and fixed, context, checks (times aside, which no two runs share)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import backend_waits_for_the_first_test_report, copy_example

TIMED = {"wall_s", "busy_s", "parallelism", "started_at", "finished_at", "run_id", "spec", "events", "runs"}
"""What differs between any two runs of the example: times, ids, paths, how often a check reran."""


def untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: untimed(v)
            for k, v in value.items()
            if k not in TIMED and not k.endswith(("_s", "_at")) and k not in ("path", "abs_path")
        }
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def run_example(folder: Path, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    spec = copy_example(folder)
    backend_waits_for_the_first_test_report(spec)
    done = subprocess.run(
        [sys.executable, "-m", "counterpoint", "run", "--trust", "--quiet", "--speed", "2", str(spec)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr
    (report,) = (folder / ".counterpoint" / "runs").glob("*/report.json")
    return json.loads(report.read_text()), done.stdout


def test_example_run_on_postgresql_reports_as_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    plain = {k: v for k, v in os.environ.items() if k != "COUNTERPOINT_EVENTS_URL"}
    on_pg, out = run_example(
        tmp_path / "pg" / "course-enrollment", {**plain, "COUNTERPOINT_EVENTS_URL": pg_url}
    )
    on_sqlite, _ = run_example(tmp_path / "sqlite" / "course-enrollment", plain)
    assert on_pg["status"] == on_sqlite["status"] == "succeeded"
    assert on_pg["integration"]["found"] == on_pg["integration"]["fixed"] == 1
    for part in ("agents", "signals", "findings", "integration", "context", "critical_path", "checks"):
        assert untimed(on_pg[part]) == untimed(on_sqlite[part]), part
    assert untimed(on_pg) == untimed(on_sqlite)
    # The PostgreSQL run left no SQLite file, and its events and run row are in the database.
    assert not (tmp_path / "pg" / "course-enrollment" / ".counterpoint" / "events.db").exists()
    with psycopg.connect(pg_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM counterpoint.events WHERE run_id = %s", (on_pg["run_id"],)
        ).fetchone()
        row = conn.execute(
            "SELECT status, workspace FROM counterpoint.runs WHERE run_id = %s", (on_pg["run_id"],)
        ).fetchone()
    assert count == (on_pg["events"],)
    assert row == ("succeeded", str((tmp_path / "pg" / "course-enrollment").resolve()))
    assert on_pg["run_id"] in out
    # `counterpoint events` and `--run last` read the database for that workspace.
    shown = subprocess.run(
        [sys.executable, "-m", "counterpoint", "events", "--type", "run_finished"],
        cwd=tmp_path / "pg" / "course-enrollment",
        env={**plain, "COUNTERPOINT_EVENTS_URL": pg_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "run_finished" in shown.stdout and "succeeded" in shown.stdout

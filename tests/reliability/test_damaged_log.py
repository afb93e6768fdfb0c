"""A damaged or unusable event log, through the real CLI: one clear line, never a traceback.

Garbage, another app's SQLite file, a newer schema, a folder where the file should be, a torn
page, a read-only file or folder, a full disk. ``run`` never starts an agent it could not record,
a file that is not ours is left untouched, and whatever is still readable is shown.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.damage import (
    assert_one_line_error,
    cli,
    command,
    digest,
    fill,
    foreign_db,
    newer_db,
    read_only,
    small_disk,
    tear_a_page,
    workspace,
)
from tests.support.harness import PY, events_of, integrity, wait_until


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(3 * 4096))


def _folder(db: Path) -> None:
    db.mkdir()
    (db / "keep.txt").write_text("mine")


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "garbage": (_garbage, "is not an event log"),
    "foreign": (foreign_db, "another application's SQLite file"),
    "newer": (newer_db, "newer Counterpoint"),
    "folder": (_folder, "is a folder"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_unusable_log_gives_one_line_and_is_left_untouched(tmp_path: Path, damage: str) -> None:
    spec = workspace(tmp_path)
    db = tmp_path / ".counterpoint" / "events.db"
    make, words = DAMAGE[damage]
    make(db)
    before = digest(db)
    for name in ("run", "events", "report", "resume"):
        result = cli(tmp_path, *command(name, tmp_path, spec))
        assert_one_line_error(result, words, str(db))
        assert digest(db) == before, name
    assert not (tmp_path / "started.marker").exists()  # run started no agent


def _log_with_a_run(folder: Path) -> tuple[Path, Path]:
    spec = workspace(folder)
    result = cli(folder, *command("run", folder, spec))
    assert result.returncode == 0, result.stderr
    (folder / "started.marker").unlink()
    return spec, folder / ".counterpoint" / "events.db"


def test_read_only_file_refuses_run_and_still_reads(tmp_path: Path) -> None:
    spec, db = _log_with_a_run(tmp_path)
    with read_only(db):
        assert_one_line_error(cli(tmp_path, *command("run", tmp_path, spec)), "is read-only", str(db))
        assert not (tmp_path / "started.marker").exists()
        events = cli(tmp_path, *command("events", tmp_path, spec))
        assert events.returncode == 0 and "run_finished" in events.stdout, events.stderr
        report = cli(tmp_path, *command("report", tmp_path, spec))
        assert report.returncode == 0 and "succeeded" in report.stdout, report.stderr


def test_read_only_folder_refuses_run_and_still_reads(tmp_path: Path) -> None:
    spec, db = _log_with_a_run(tmp_path)
    with read_only(db.parent):
        line = assert_one_line_error(cli(tmp_path, *command("run", tmp_path, spec)))
        assert "read-only" in line or "writable" in line, line
        assert not (tmp_path / "started.marker").exists()
        events = cli(tmp_path, *command("events", tmp_path, spec))
        assert events.returncode == 0 and "run_finished" in events.stdout, events.stderr
        report = cli(tmp_path, *command("report", tmp_path, spec))
        assert "succeeded" in report.stdout  # the report is shown; its files could not be saved
        assert_one_line_error(report, "could not save the report files")


def test_full_disk_before_a_run_starts_no_agent(tmp_path: Path) -> None:
    spec = workspace(tmp_path)
    with small_disk(tmp_path / ".counterpoint"):
        first = cli(tmp_path, *command("run", tmp_path, spec))
        assert first.returncode == 0, first.stderr
        (tmp_path / "started.marker").unlink()
        fill(tmp_path / ".counterpoint")
        assert_one_line_error(cli(tmp_path, *command("run", tmp_path, spec)), "no space left")
        assert not (tmp_path / "started.marker").exists()
        events = cli(tmp_path, *command("events", tmp_path, spec))
        assert "run_finished" in events.stdout, events.stderr


def test_disk_filling_up_mid_run_stops_it_cleanly_and_it_resumes(tmp_path: Path) -> None:
    spec = workspace(tmp_path, ready=False)
    state = tmp_path / ".counterpoint"
    db = state / "events.db"
    with small_disk(state):
        env = dict(os.environ, COUNTERPOINT_TRUST="1", LINES_OUT="20000")
        proc = subprocess.Popen(
            [PY, "-m", "counterpoint", "run", str(spec), "--quiet"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: (tmp_path / "started.marker").exists() or proc.poll() is not None, 60)
            assert proc.poll() is None, proc.communicate()
            filler = fill(state)
            (tmp_path / "go").write_text("")  # now the agent writes more than the disk holds
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        line = assert_one_line_error(result, "no space left", "was stopped", "could not be recorded")
        assert proc.returncode == 1, line
        filler.unlink()  # space again: what was recorded is intact, and the run resumes
        assert integrity(db) == "ok"
        recorded = [t for t, _a, _x in events_of(db)]
        assert recorded[0] == "run_started" and "agent_started" in recorded
        resumed = cli(tmp_path, *command("resume", tmp_path, spec), lines=5)
        assert resumed.returncode == 0, resumed.stderr
        assert "run_finished" in [t for t, _a, _x in events_of(db)]


def test_torn_page_shows_what_is_still_readable(tmp_path: Path) -> None:
    spec, db = _log_with_a_run(tmp_path)
    conn = sqlite3.connect(db)
    run_id, stamp = conn.execute("SELECT run_id, timestamp FROM events ORDER BY id DESC LIMIT 1").fetchone()
    rows = [
        (
            run_id,
            "agent_output",
            "worker",
            None,
            f'{{"line": "filler {i} {"x" * 80}"}}',
            stamp,
        )
        for i in range(5000)
    ]
    conn.executemany(
        "INSERT INTO events (run_id, type, actor, action, metadata, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute(
        "INSERT INTO events (run_id, type, actor, action, metadata, timestamp) VALUES (?, 'notice', NULL, 'the very last', '{}', ?)",
        (run_id, stamp),
    )
    conn.commit()
    total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    tear_a_page(db)
    events = cli(tmp_path, *command("events", tmp_path, spec))
    assert_one_line_error(events, "is damaged", "still readable")
    shown = events.stdout.strip().splitlines()
    assert 0 < len(shown) < total
    assert "run_started" in shown[0] and "the very last" in shown[-1]  # both sides of the tear
    report = cli(tmp_path, *command("report", tmp_path, spec))
    assert_one_line_error(report, "is damaged")
    assert "worker" in report.stdout
    assert_one_line_error(cli(tmp_path, *command("resume", tmp_path, spec)), "is damaged")

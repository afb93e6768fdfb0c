"""Durability on PostgreSQL: every event an appender reported as appended is in the database after
the appender is killed with SIGKILL at random moments, group commits in flight included (the
SQLite version is tests/reliability/test_durability.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.support.harness import kill_appender


def test_every_reported_event_survives_kill_9_at_random_moments(pg_url: str, tmp_path: Path) -> None:
    kills, reported = kill_appender(pg_url, tmp_path, kills=20, seed=13, max_seconds=150)
    with psycopg.connect(pg_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM counterpoint.events")}
        unique = conn.execute("SELECT count(*) = count(DISTINCT id) FROM counterpoint.events").fetchone()
    assert kills == 20
    assert reported, "nothing was reported before the kills"
    assert sorted(reported - stored)[:20] == []
    assert stored >= reported and unique == (True,)

"""Durability on PostgreSQL: every event an appender reported as appended is in the database after
the appender is killed with SIGKILL at random moments, group commits in flight included (the
SQLite version is tests/reliability/test_durability.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

APPENDER = """
import asyncio, os, sys
from counterpoint.engine.log import EventLog
from counterpoint.engine.log.pg import PgBackend

async def main() -> None:
    log = await EventLog.open(PgBackend(sys.argv[1]))
    os.write(1, b"ready\\n")
    n = 0
    while True:
        # Several appends in flight at once, so group commits are part of what gets killed.
        events = await asyncio.gather(
            *(log.append("durability", "agent_output", f"agent{i}", None, {"n": n, "i": i}) for i in range(4))
        )
        os.write(1, "".join(f"{e.id}\\n" for e in events).encode())
        n += 1

asyncio.run(main())
"""


def test_every_reported_event_survives_kill_9_at_random_moments(pg_url: str, tmp_path: Path) -> None:
    rng = random.Random(13)
    script = tmp_path / "appender.py"
    script.write_text(APPENDER)
    reported: set[int] = set()
    kills = 0
    deadline = time.monotonic() + 150  # a safety net: the kills are counted, not timed
    while kills < 20 and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, str(script), pg_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first != b"ready\n":
            proc.kill()
            raise AssertionError(f"appender did not start: {first!r} {proc.communicate()[1]!r}")
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        out, _err = proc.communicate(timeout=10)
        lines = out.decode("ascii", "replace").split("\n")
        reported.update(int(line) for line in lines[:-1] if line.strip().isdigit())  # last: partial
        kills += 1
    with psycopg.connect(pg_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM counterpoint.events")}
        unique = conn.execute("SELECT count(*) = count(DISTINCT id) FROM counterpoint.events").fetchone()
    assert kills == 20
    assert reported, "nothing was reported before the kills"
    assert sorted(reported - stored)[:20] == []
    assert stored >= reported and unique == (True,)

"""One live run per spec across processes: many ``counterpoint run`` started at once, exactly one runs.

The processes are real CLIs held at a barrier (a FIFO they all block on) and released together,
so they race for the spec's lock; a holder killed with SIGKILL never blocks the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.harness import events_of, long_workspace, runs_table, wait_until

RACER = """
import os, sys
from counterpoint.cli import main
import counterpoint.cli.cmd_run  # imported before the barrier: the race is the run itself

fd = os.open(sys.argv[1], os.O_RDONLY)  # the test holds the FIFO open: this does not block
os.write(1, b"ready\\n")
os.read(fd, 1)  # blocks until the test closes its end: every racer wakes at once
os.close(fd)
sys.exit(main(["run", sys.argv[2], "--quiet"]))
"""

RACERS = 8


def test_runs_started_together_exactly_one_runs(tmp_path: Path) -> None:
    spec = long_workspace(tmp_path, seconds=600)
    db = tmp_path / ".counterpoint" / "events.db"
    fifo = tmp_path / "barrier"
    os.mkfifo(fifo)
    hold = os.open(fifo, os.O_RDWR)  # a writer exists: racers open without blocking
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(fifo), str(spec)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RACERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
        os.close(hold)  # EOF for every racer: all released together
        hold = -1
        # Every racer but one is refused and exits; the one left runs (its agent thinks 600 s).
        wait_until(lambda: sum(p.poll() is not None for p in procs) >= RACERS - 1, seconds=120)
        running = [p for p in procs if p.poll() is None]
        refused = [p for p in procs if p.poll() is not None]
        errors = [p.communicate(timeout=30)[1] for p in refused]
        assert len(running) == 1, errors
        assert all(p.returncode == 2 for p in refused), errors
        winner = running[0]
        for err in errors:
            assert "already live in another process" in err and f"pid {winner.pid}" in err, err
            assert "Traceback" not in err
        wait_until(lambda: bool(events_of(db, "agent_started")), seconds=60)
        assert len(events_of(db, "run_started")) == 1
        assert len(runs_table(db)) == 1
    finally:
        if hold >= 0:
            os.close(hold)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert list(runs_table(db).values()) == ["cancelled"]


def test_a_holder_killed_with_sigkill_never_blocks_the_next_run(tmp_path: Path) -> None:
    spec = long_workspace(tmp_path, seconds=600)
    db = tmp_path / ".counterpoint" / "events.db"
    first = subprocess.Popen(
        [sys.executable, "-m", "counterpoint", "run", str(spec), "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: bool(events_of(db, "agent_started")), seconds=60)
        locks = list((tmp_path / ".counterpoint" / "locks").iterdir())
        assert len(locks) == 1 and json.loads(locks[0].read_text())["pid"] == first.pid
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    (tmp_path / "worker.jsonl").write_text(json.dumps({"action": "think", "seconds": 0.1}) + "\n")
    second = subprocess.run(
        [sys.executable, "-m", "counterpoint", "run", str(spec), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert sorted(runs_table(db).values()) == ["interrupted", "succeeded"]


async def test_whoever_sees_run_finished_can_start_the_spec_again_at_once(tmp_path: Path) -> None:
    """The lock is let go before `run_finished` is committed: an editor that reruns the moment it
    sees the end (as Neovim's rerun does) is never refused by the run that just ended."""
    import asyncio

    from counterpoint.engine.engine import Engine, read_spec
    from counterpoint.engine.run.lock import SpecLock, try_lock
    from counterpoint.engine.workspace import STATE_DIR
    from counterpoint_protocol.events import Event, EventType

    spec_path = long_workspace(tmp_path, seconds=0.05)
    engine = await Engine.open(tmp_path)
    seen: list[str] = []
    rerun: list[asyncio.Task[object]] = []
    try:
        spec = await read_spec(spec_path)

        def on_event(event: Event) -> None:
            if event.type != EventType.RUN_FINISHED or rerun:
                return
            # Another process looking at the lock file right now: free.
            other = try_lock(tmp_path / STATE_DIR, spec_path.resolve())
            seen.append(type(other).__name__)
            if isinstance(other, SpecLock):
                other.release()
            # This engine, asked to start the spec again the moment the end is seen.
            rerun.append(asyncio.ensure_future(engine.start_run(spec)))

        unsubscribe = engine.log.subscribe(on_event)
        first = await engine.start_run(spec)
        await engine.execute(first)
        await asyncio.wait_for(asyncio.shield(rerun[0]) if rerun else asyncio.sleep(0), 30)
        unsubscribe()
        assert seen == ["SpecLock"]
        second = rerun[0].result()
        await engine.execute(second)  # type: ignore[arg-type]
        assert second.result_status == "succeeded"  # type: ignore[attr-defined]
    finally:
        await engine.aclose()

"""The PostgreSQL log from the command line: a run never starts without a working log (one line,
no password, no agent started), the driver is imported only when a PostgreSQL URL is configured,
and a missing driver says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import copy_example

PASSWORD = "never-shown-password"


def counterpoint(
    *args: str, cwd: Path, env: dict[str, str], code: str = ""
) -> subprocess.CompletedProcess[str]:
    """``counterpoint ARGS`` in a child, after ``code`` (run first, in the child)."""
    program = f"import sys\n{code}\nfrom counterpoint.cli import main\nrc = main(sys.argv[1:])\n"
    program += "print('psycopg' in sys.modules, file=sys.stderr)\nsys.exit(rc)\n"
    return subprocess.run(
        [sys.executable, "-c", program, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_run_refuses_to_start_on_a_database_it_cannot_reach(tmp_path: Path) -> None:
    spec = copy_example(tmp_path / "course-enrollment")
    env = dict(
        os.environ, COUNTERPOINT_EVENTS_URL=f"postgresql://me:{PASSWORD}@127.0.0.1:9/x?connect_timeout=3"
    )
    done = counterpoint("run", "--trust", "--quiet", str(spec), cwd=spec.parent, env=env)
    assert done.returncode == 2, done.stderr
    line, imported = done.stderr.strip().split("\n")
    assert line.startswith("counterpoint: cannot reach the event log database postgresql://me@127.0.0.1:9/x")
    assert PASSWORD not in done.stderr and imported == "True"
    assert not (spec.parent / "app").exists()  # no agent ran
    assert not (spec.parent / ".counterpoint" / "runs").exists()


def test_the_driver_is_imported_only_for_a_postgresql_log(tmp_path: Path) -> None:
    spec = copy_example(tmp_path / "course-enrollment")
    env = {k: v for k, v in os.environ.items() if k != "COUNTERPOINT_EVENTS_URL"}
    done = counterpoint("run", "--trust", "--quiet", "--speed", "4", str(spec), cwd=spec.parent, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False"
    shown = counterpoint("events", "--type", "run_finished", cwd=spec.parent, env=env)
    assert shown.returncode == 0 and "succeeded" in shown.stdout
    assert shown.stderr.strip() == "False"


def test_a_missing_driver_says_how_to_install_it(tmp_path: Path, pg_url: str) -> None:
    env = dict(os.environ, COUNTERPOINT_EVENTS_URL=pg_url)
    done = counterpoint("events", cwd=tmp_path, env=env, code="sys.modules['psycopg'] = None")
    assert done.returncode == 2
    assert "pip install 'counterpoint[postgres]'" in done.stderr.splitlines()[0]

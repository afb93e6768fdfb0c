"""Real damage for the event log tests: garbage, foreign and newer files, torn pages, a read-only
file or folder (a read-only bind mount when root, which ignores modes), a small full disk (tmpfs).

The mounts need root (the test machine runs as root); each is undone when its block ends.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.harness import PY

WORK = """#!/bin/sh
touch started.marker
while [ ! -e go ]; do sleep 0.05; done
i=0
while [ $i -lt "${LINES_OUT:-5}" ]; do
  echo "line $i of the work, long enough to fill a small disk quickly: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
  i=$((i+1))
done
"""

SPEC = """---
runner: command
---
# Damage

## worker
command: ./work.sh
"""


def workspace(folder: Path, *, ready: bool = True) -> Path:
    """A spec whose one agent touches ``started.marker``, waits for ``go``, prints ``$LINES_OUT`` lines."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)
    (folder / ".counterpoint").mkdir(exist_ok=True)
    script = folder / "work.sh"
    script.write_text(WORK)
    script.chmod(0o755)
    if ready:
        (folder / "go").write_text("")
    spec = folder / "damage.agents.md"
    spec.write_text(SPEC)
    return spec


def cli(folder: Path, *args: str, lines: int = 5, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COUNTERPOINT_TRUST="1", LINES_OUT=str(lines))
    return subprocess.run(
        [PY, "-m", "counterpoint", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def command(name: str, folder: Path, spec: Path) -> list[str]:
    return {
        "run": ["run", str(spec), "--quiet"],
        "events": ["events", "--run", "all", "--workspace", str(folder)],
        "report": ["report", "--workspace", str(folder)],
        "resume": ["resume", "last", "--quiet", "--workspace", str(folder)],
    }[name]


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Non-zero exit, no traceback, exactly one line on stderr naming the problem."""
    err = result.stderr
    assert result.returncode != 0, (result.returncode, result.stdout[-500:], err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("counterpoint: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def digest(path: Path) -> str:
    if path.is_dir():
        return "dir:" + ",".join(sorted(p.name for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'x');"
    )
    conn.close()


def newer_db(path: Path) -> None:
    from counterpoint.engine.log.schema import SCHEMA

    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA + "PRAGMA user_version = 99;")
    conn.close()


def tear_a_page(db: Path) -> int:
    """Overwrite one leaf page in the middle of the events table with garbage; returns its number."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = [
        r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'")
    ]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    page = sorted(pages)[len(pages) // 2]
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(b"\xde\xad\xbe\xef" * (size // 4))
    return page


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or folder) read-only for real, even for root: a read-only bind mount."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield
    finally:
        _umount(path)


@contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[None]:
    """``folder`` on a tmpfs of ``size``: filling it gives real ENOSPC / SQLITE_FULL."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield
    finally:
        _umount(folder)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk is full."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def _mount(*args: str) -> None:
    assert os.geteuid() == 0, "the damage tests mount filesystems: run them as root"
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)

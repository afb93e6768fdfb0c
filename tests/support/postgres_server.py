"""A real PostgreSQL server for the tests, started by the tests themselves.

`shared_server` gives every pytest process of one run (xdist workers included) the same server:
the first to take the lock runs ``initdb`` and ``pg_ctl start`` in a temporary folder, on a free
loopback port (as the ``postgres`` user when the tests run as root), and writes where it is; the
others read that. Each process registers its pid; a watchdog process started with the server
stops it (``pg_ctl stop -m immediate``) and removes its folder once none of them is alive, so a
crashed or killed test run leaves no server behind. `fresh_database` makes one database a test.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

WATCHDOG = r"""
import os, shutil, subprocess, sys, time
folder, bindir, user = sys.argv[1], sys.argv[2], sys.argv[3]
users = os.path.join(folder, "users")
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
quiet = 0
while quiet < 3:
    time.sleep(0.5)
    try:
        pids = [int(name) for name in os.listdir(users)]
    except (OSError, ValueError):
        pids = []
    quiet = 0 if any(alive(pid) for pid in pids) else quiet + 1
command = [os.path.join(bindir, "pg_ctl"), "-D", os.path.join(folder, "data"), "-m", "immediate", "stop"]
if user:
    command = ["runuser", "-u", user, "--", *command]
subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(folder, ignore_errors=True)
"""


@dataclass
class Server:
    host: str
    port: int
    folder: Path

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@{self.host}:{self.port}/{database}"


def bindir() -> Path:
    """Where the server programs are (Debian's /usr/lib/postgresql/N/bin, the newest), or an error."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(
        "the PostgreSQL server programs are missing (initdb, pg_ctl): apt-get install postgresql "
        "(.ci/run and ./dev test install them)"
    )


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(server: Server) -> bool:
    try:
        with psycopg.connect(server.url(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _start(folder: Path) -> Server:
    programs = bindir()
    data = folder / "data"
    data.mkdir(mode=0o700)
    user = ""
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        user = "postgres"
    subprocess.run(
        _as_postgres(
            [str(programs / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _attempt in range(5):  # a port taken between the probe and the start: another one
        port = _free_port()
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=300"
        started = subprocess.run(
            _as_postgres(
                [
                    str(programs / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(data / "log"),
                    "-w",
                    "start",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if started.returncode == 0:
            break
    else:
        raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()}")
    subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(folder), str(programs), user],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Server("127.0.0.1", port, folder)


def shared_server(run_id: str) -> Server:
    """The server of this test run (``run_id``: the same in every worker), started if need be; this
    process is registered as its user until it exits."""
    folder = Path(tempfile.gettempdir()) / f"counterpoint-pg-{run_id}"
    folder.mkdir(mode=0o755, exist_ok=True)
    (folder / "users").mkdir(exist_ok=True)
    (folder / "users" / str(os.getpid())).touch()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # xdist's controller outlives every worker: a worker done early does not stop the server
        # under one whose first test here comes later.
        (folder / "users" / str(os.getppid())).touch()
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        where = folder / "server.json"
        if where.exists():
            known = json.loads(where.read_text())
            server = Server(known["host"], known["port"], folder)
            if _answers(server):
                return server
            raise RuntimeError(f"the tests' PostgreSQL server at {known} does not answer")
        server = _start(folder)
        where.write_text(json.dumps({"host": server.host, "port": server.port}))
        return server


def release(server: Server) -> None:
    """This process no longer uses the server (the watchdog stops it after the last one)."""
    with contextlib.suppress(OSError):
        (server.folder / "users" / str(os.getpid())).unlink()


def fresh_database(server: Server) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return name


def drop_database(server: Server, name: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(server.url(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

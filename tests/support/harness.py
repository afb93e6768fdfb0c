"""Building blocks of the reliability tests, shared with `benchmarks/bench_reliability.py`.

- `kill_appender_many_times` (`kill_appender` for any log, PostgreSQL's too): a child process
  appends events and prints each id once `append` returned; it is SIGKILLed at random moments;
  every reported id must be in the log after.
- `kill_and_resume`: kill -9 a real ``counterpoint run`` mid-run, then ``counterpoint resume`` it.
- `orphans_after`: a command agent with a grandchild, ended by kill -9 / cancel / timeout /
  the editor vanishing; the processes left behind are counted.
- `Framed`: a raw JSON-RPC connection to ``counterpoint lsp`` (for the fuzz tests).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from tests.support.processes import survivors, wait_until

PY = sys.executable

APPENDER = """
import asyncio, os, sys
from pathlib import Path
from counterpoint.engine.log import EventLog

def where(arg):
    if "://" not in arg:
        return Path(arg)  # the SQLite file
    from counterpoint.engine.log.pg import PgBackend
    return PgBackend(arg)

async def main() -> None:
    log = await EventLog.open(where(sys.argv[1]))
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


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PY, "-m", "counterpoint", *args],
        cwd=cwd,
        env=env or dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def ids_in(db: Path) -> set[int]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM events")}
    finally:
        conn.close()


def kill_appender(
    where: str, folder: Path, kills: int, seed: int, max_seconds: float
) -> tuple[int, set[int]]:
    """SIGKILL a child appending to the log at ``where`` (a SQLite file or a PostgreSQL URL) at
    random moments, ``kills`` times (within ``max_seconds``, a safety net); the kills made and the
    ids the child reported as appended (its script is written into ``folder``)."""
    rng = random.Random(seed)
    script = folder / "appender.py"
    script.write_text(APPENDER)
    reported: set[int] = set()
    done = 0
    deadline = time.monotonic() + max_seconds
    while done < kills and time.monotonic() < deadline:
        proc = subprocess.Popen([PY, str(script), where], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
        done += 1
    return done, reported


def kill_appender_many_times(
    folder: Path, kills: int = 30, seed: int = 7, max_seconds: float = 60.0
) -> dict[str, Any]:
    """SIGKILL an appending child ``kills`` times; returns what was reported, kept and lost."""
    db = folder / ".counterpoint" / "events.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    done, reported = kill_appender(str(db), folder, kills, seed, max_seconds)
    stored = ids_in(db)
    lost = sorted(reported - stored)
    return {
        "kills": done,
        "reported": len(reported),
        "stored": len(stored),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "integrity": integrity(db),
    }


# -- kill -9 a run, then resume it -----------------------------------------------------------

RESUME_SPEC = """
---
feature: Resume after kill
runner: replay
---
# Resume

## fast
transcript: fast.jsonl
emits: base_ready
- Quick start

## side
transcript: side.jsonl
- Also quick

## slow
needs: base_ready
transcript: slow.jsonl
- Long work that gets killed

## last
needs: slow
transcript: last.jsonl
- Runs after slow
"""


def _think(seconds: float) -> dict[str, Any]:
    return {"action": "think", "seconds": seconds}


def resume_workspace(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)
    transcripts = {
        "fast": [
            _think(0.1),
            {"action": "write_file", "path": "base.txt", "content": "base\n"},
            {"action": "emit", "signal": "base_ready"},
        ],
        "side": [_think(0.2)],
        "slow": [_think(0.5), _think(0.5), _think(0.5)],
        "last": [_think(0.1)],
    }
    for name, steps in transcripts.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    spec = folder / "resume.agents.md"
    spec.write_text(textwrap.dedent(RESUME_SPEC).lstrip())
    return spec


def events_of(db: Path, type: str | None = None) -> list[tuple[str, str | None, str | None]]:
    """(type, actor, action) of every event, or [] while the log is not there yet."""
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            sql = "SELECT type, actor, action FROM events"
            rows = conn.execute(
                sql + (" WHERE type = ?" if type else "") + " ORDER BY id", (type,) if type else ()
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return []


def kill_and_resume(folder: Path) -> dict[str, Any]:
    """Run the spec, kill -9 the CLI while ``slow`` runs, resume it; what happened, per agent."""
    spec = resume_workspace(folder)
    db = folder / ".counterpoint" / "events.db"
    proc = cli("run", str(spec), "--quiet", cwd=folder)

    def slow_running() -> bool:
        finished = {a for _t, a, _x in events_of(db, "agent_finished")}
        started = {a for _t, a, _x in events_of(db, "agent_started")}
        return {"fast", "side"} <= finished and "slow" in started

    try:
        wait_until(slow_running)
        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    run_id = next(a for t, a, x in _full_events(db) if t == "run_started")
    resumed = cli("resume", run_id, "--quiet", "--workspace", str(folder), cwd=folder)
    out, err = resumed.communicate(timeout=60)
    starts: dict[str, int] = {}
    for _t, actor, _x in events_of(db, "agent_started"):
        starts[str(actor)] = starts.get(str(actor), 0) + 1
    report = json.loads((folder / ".counterpoint" / "runs" / run_id / "report.json").read_text())
    return {
        "run_id": run_id,
        "exit": resumed.returncode,
        "stdout": out,
        "stderr": err,
        "starts": starts,
        "report": report,
        "integrity": integrity(db),
    }


def _full_events(db: Path) -> list[tuple[str, str, str | None]]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute("SELECT type, run_id, action FROM events ORDER BY id")]  # type: ignore[misc]
    finally:
        conn.close()


# -- orphans ------------------------------------------------------------------------------------

ORPHAN_SPEC = """---
runner: command
---
# Orphans

## spawner
command: ./spawn.sh
{extra}
"""


def wait_no_survivors(marker: str, seconds: float = 10.0) -> int:
    deadline = time.monotonic() + seconds
    while True:
        left = survivors(marker)
        if not left or time.monotonic() > deadline:
            for proc in left:  # clean up what the test found, so one failure does not leak
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            return len(left)
        time.sleep(0.1)


def orphan_workspace(folder: Path, *, timeout: str | None = None) -> tuple[Path, str]:
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid() % 1000}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)
    script = folder / "spawn.sh"
    script.write_text(f"#!/bin/sh\nsleep {marker} &\nwhile true; do echo alive; sleep 0.2; done\n")
    script.chmod(0o755)
    spec = folder / "orphans.agents.md"
    spec.write_text(ORPHAN_SPEC.format(extra=f"timeout: {timeout}" if timeout else ""))
    return spec, marker


def orphans_after(folder: Path, how: str) -> int:
    """End a CLI run whose agent has a grandchild by ``kill9`` / ``cancel`` / ``timeout``, or an
    LSP server's run by ``client_vanished`` (stdin closed); count the processes left."""
    env = dict(os.environ, COUNTERPOINT_TRUST="1")
    spec, marker = orphan_workspace(folder, timeout="1s" if how == "timeout" else None)
    db = folder / ".counterpoint" / "events.db"
    if how == "client_vanished":
        return _orphans_after_client_vanished(folder, spec, marker, env)
    proc = cli("run", str(spec), "--quiet", cwd=folder, env=env)
    try:
        wait_until(lambda: bool(survivors(marker)) and bool(events_of(db, "agent_output")))
        if how == "kill9":
            os.kill(proc.pid, signal.SIGKILL)
        elif how == "cancel":
            os.kill(proc.pid, signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return wait_no_survivors(marker)


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _orphans_after_client_vanished(folder: Path, spec: Path, marker: str, env: dict[str, str]) -> int:
    server = Framed(folder, env)
    try:
        server.initialize()
        reply = server.request(
            "workspace/executeCommand", {"command": "counterpoint.run", "arguments": [{"uri": spec.as_uri()}]}
        )
        assert "result" in reply, reply
        wait_until(lambda: bool(survivors(marker)))
        server.vanish()
    finally:
        server.close()
    return wait_no_survivors(marker)


class Framed:
    """``counterpoint lsp`` as a raw subprocess: write framed bytes, read framed replies."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.proc = subprocess.Popen(
            [PY, "-m", "counterpoint", "lsp"],
            cwd=folder,
            env=env or dict(os.environ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 1000

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(frame(json.dumps(message).encode()))

    def read(self) -> dict[str, Any]:
        """The next message from the server (notifications included)."""
        stdout = self.proc.stdout
        assert stdout is not None
        length = None
        while True:
            line = stdout.readline()
            if not line:
                raise EOFError("the server closed its stdout")
            if line in (b"\r\n", b"\n"):
                if length is not None:
                    break
                continue
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = stdout.read(length)
        result: dict[str, Any] = json.loads(body)
        return result

    def reply_to(self, request_id: int | str, timeout: float = 30.0) -> dict[str, Any]:
        """Read until the reply to ``request_id``; answer the server's own requests with null."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.read()
            if "method" in message and "id" in message:  # a request from the server
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            if message.get("id") == request_id and "method" not in message:
                return message
        raise AssertionError(f"no reply to {request_id}")

    def request(self, method: str, params: Any = None, **extra: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method, **extra}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.reply_to(self.next_id)

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def initialize(self) -> dict[str, Any]:
        reply = self.request(
            "initialize", {"processId": os.getpid(), "rootUri": self.folder.as_uri(), "capabilities": {}}
        )
        self.notify("initialized", {})
        return reply

    def status_ok(self) -> bool:
        """The server still answers ``counterpoint.status`` with a list of runs."""
        reply = self.request("workspace/executeCommand", {"command": "counterpoint.status", "arguments": []})
        return isinstance(reply.get("result"), dict) and isinstance(reply["result"].get("runs"), list)

    def vanish(self) -> None:
        """The editor goes away without a word: its end of the pipe closes."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


LONG_SPEC = """---
runner: replay
---
# Long

## worker
transcript: worker.jsonl
- work a while
"""


def long_workspace(folder: Path, seconds: float = 30.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)
    (folder / "worker.jsonl").write_text(json.dumps({"action": "think", "seconds": seconds}) + "\n")
    spec = folder / "long.agents.md"
    spec.write_text(LONG_SPEC)
    return spec


def runs_table(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT run_id, status FROM runs").fetchall())
    finally:
        conn.close()

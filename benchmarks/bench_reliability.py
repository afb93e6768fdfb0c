"""Benchmark: the reliability run. `python -m benchmarks reliability [--kills 30] [--resumes 3]`.

- kills: a process appending events is SIGKILLed at random moments ``--kills`` times; every
  event it reported as appended must be in the log (events lost: must be 0), which must pass
  ``PRAGMA integrity_check``;
- resumes: a real ``counterpoint run`` is killed -9 mid-run and ``counterpoint resume``d, ``--resumes``
  times; completed = the resumed run succeeded without running a succeeded agent again;
- orphans: processes left by a command agent's grandchild after kill -9 of the CLI, Ctrl-C
  (cancel), a timeout, and the editor vanishing from the language server (must be 0);
- fuzz: malformed JSON-RPC cases sent to a raw ``counterpoint lsp``, which must keep answering;
- load: peak RSS and open files of one run of 200 concurrent agents; open files and RSS after
  2 and after 20 runs in a row in one Engine; a 10,000 + 2,000 file storm during a run.

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support import fuzz
from tests.support.harness import Framed, kill_and_resume, kill_appender_many_times, orphans_after
from tests.support.load import file_storm, many_agents, runs_in_a_row

ORPHAN_CASES = ["kill9", "cancel", "timeout", "client_vanished"]


def fuzz_cases(folder: Path, examples: int) -> int:
    (folder / ".git").mkdir(parents=True, exist_ok=True)
    tried = 0
    server = Framed(folder)
    try:
        server.initialize()
        tried += fuzz.bad_json(server)
        tried += fuzz.wrong_params(server)
        tried += fuzz.unknown_methods(server)
        tried += fuzz.huge_message(server, folder, megabytes=20)
        tried += fuzz.random_command_params(server, examples=examples)
        tried += fuzz.after_shutdown(server)
    finally:
        server.close()
    return tried


def resumes(folder: Path, count: int) -> tuple[int, list[dict[str, Any]]]:
    completed = 0
    details = []
    for i in range(count):
        result = kill_and_resume(folder / f"resume{i}")
        ok = (
            result["exit"] == 0
            and result["report"]["status"] == "succeeded"
            and result["starts"].get("fast") == 1
            and result["starts"].get("side") == 1
        )
        completed += ok
        details.append({"starts": result["starts"], "exit": result["exit"]})
    return completed, details


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks reliability")
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--resumes", type=int, default=3)
    parser.add_argument("--fuzz-examples", type=int, default=300)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv or [])
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any, *a: Any) -> Any:
        started = time.monotonic()
        value = fn(*a)
        timings[name] = round(time.monotonic() - started, 1)
        return value

    with tempfile.TemporaryDirectory(prefix="cp-reliability-") as tmp:
        root = Path(tmp)
        kills = timed("kills", kill_appender_many_times, root / "kills", args.kills, 7, 120.0)
        completed, resume_details = timed("resumes", resumes, root, args.resumes)
        orphans = {
            how: timed(f"orphans_{how}", orphans_after, root / f"orphans-{how}", how) for how in ORPHAN_CASES
        }
        tried = timed("fuzz", fuzz_cases, root / "fuzz", args.fuzz_examples)
        agents = timed("agents", asyncio.run, many_agents(root / "agents", args.agents))
        row = timed("runs", asyncio.run, runs_in_a_row(root / "row", args.runs))
        storm = timed("storm", asyncio.run, file_storm(root / "storm", sys.executable))

    result: dict[str, Any] = {
        "kills": kills["kills"],
        "events_reported": kills["reported"],
        "events_lost": kills["lost"],
        "integrity": kills["integrity"],
        "resumes": args.resumes,
        "resumes_completed": completed,
        "resume_agent_starts": resume_details[0]["starts"] if resume_details else {},
        "orphans": orphans,
        "orphans_total": sum(orphans.values()),
        "fuzz_cases": tried,
        "agents": agents,
        "runs_in_a_row": row,
        "file_storm": storm,
        "seconds": timings,
    }
    rows = [
        ("kills survived (SIGKILL of an appending process)", f"{kills['kills']}"),
        ("events reported as appended / lost", f"{kills['reported']} / {kills['lost']}"),
        ("log integrity after the kills", kills["integrity"]),
        ("resumes completed (kill -9 mid-run, then resume)", f"{completed} / {args.resumes}"),
        ("agent starts across kill + resume", json.dumps(result["resume_agent_starts"])),
        ("orphans: " + ", ".join(ORPHAN_CASES), ", ".join(str(orphans[h]) for h in ORPHAN_CASES)),
        ("fuzz cases tried (server kept answering)", str(tried)),
        (
            f"{agents['agents']} agents: status, wall, parallelism",
            f"{agents['status']}, {agents['seconds']} s, {agents['parallelism']}x",
        ),
        (
            f"{agents['agents']} agents: peak RSS / open files",
            f"{agents['peak_rss_mb']} MB / {agents['peak_open_files']}",
        ),
        (
            f"{row['runs']} runs in a row: open files after 2 / after {row['runs']}",
            f"{row['open_files_after_2']} / {row['open_files_after_all']}",
        ),
        (
            f"{row['runs']} runs in a row: RSS after 2 / after {row['runs']}",
            f"{row['rss_mb_after_2']} MB / {row['rss_mb_after_all']} MB",
        ),
        (
            "file storm (10,000 ignored + 2,000 watched): status, signals",
            f"{storm['status']}, {', '.join(storm['signals'])}",
        ),
        (
            "file storm: wall, longest event-loop stall",
            f"{storm['seconds']} s, {storm['max_loop_lag_ms']} ms",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps({"reliability": result}, default=str))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])

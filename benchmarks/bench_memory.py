"""Benchmark: memory of one run that writes many files. `python -m benchmarks memory [--files 100000]`.

One replay agent writes ``--files`` small files (100 folders) through the workspace tools, in a
real ``counterpoint run`` started as a subprocess; the process tree's RSS is sampled (psutil,
every 50 ms) until it exits. Reported: peak RSS (target < 200 MB at 100,000 files), wall, tool
writes per second, and the RSS of the same run with ``--files / 10`` (how much memory grows with
the number of writes: a bounded run grows by its per-path summaries only).

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

TARGET_MB = 200
FOLDERS = 100


def make_workspace(folder: Path, files: int) -> Path:
    """A workspace whose one replay agent writes ``files`` small files, then emits ``done``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)
    with open(folder / "writer.jsonl", "w", encoding="utf-8") as fh:
        for i in range(files):
            path = f"out/d{i % FOLDERS:03d}/f{i:06d}.txt"
            fh.write(json.dumps({"action": "write_file", "path": path, "content": f"file {i}\n"}) + "\n")
        fh.write(json.dumps({"action": "emit", "signal": "done"}) + "\n")
    spec = folder / "memory.agents.md"
    spec.write_text(
        "---\nfeature: Many writes\nrunner: replay\n---\n# Many writes\n\n"
        "## writer\ntranscript: writer.jsonl\nemits: done\n- write every file\n"
    )
    return spec


def tree_rss(proc: psutil.Process) -> int:
    """RSS of ``proc`` and its descendants (bytes; processes that just ended count 0)."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_cli(spec: Path) -> dict[str, Any]:
    """``counterpoint run --quiet SPEC`` as a subprocess: exit code, wall, peak RSS of its tree."""
    cli = Path(sys.executable).with_name("counterpoint")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "counterpoint"]
    started = time.monotonic()
    child = subprocess.Popen(
        [*command, "run", "--quiet", str(spec)],
        cwd=spec.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(proc))
        time.sleep(0.05)
    wall = time.monotonic() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    return {
        "exit": child.returncode,
        "seconds": round(wall, 1),
        "peak_rss_mb": round(peak / 1e6, 1),
        "stderr_tail": stderr[-300:],
    }


def measure(root: Path, files: int) -> dict[str, Any]:
    spec = make_workspace(root / f"w{files}", files)
    result = run_cli(spec)
    written = sum(1 for _ in (spec.parent / "out").rglob("*.txt")) if (spec.parent / "out").exists() else 0
    result.update(
        files=files,
        written=written,
        writes_per_s=round(files / result["seconds"], 1) if result["seconds"] else 0.0,
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks memory")
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="cp-memory-") as tmp:
        small = measure(Path(tmp), max(1, args.files // 10))
        large = measure(Path(tmp), args.files)
    result: dict[str, Any] = {
        "small": small,
        "large": large,
        "target_mb": TARGET_MB,
        "under_target": large["peak_rss_mb"] < TARGET_MB,
        "rss_growth_ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)
        if small["peak_rss_mb"]
        else None,
    }
    rows = [("files", "exit", "written", "wall s", "writes/s", "peak RSS MB")]
    for r in (small, large):
        rows.append(
            (
                f"{r['files']:,}",
                str(r["exit"]),
                f"{r['written']:,}",
                str(r["seconds"]),
                str(r["writes_per_s"]),
                str(r["peak_rss_mb"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print(
        f"peak RSS at {args.files:,} files: {large['peak_rss_mb']} MB (target < {TARGET_MB} MB); "
        f"{result['rss_growth_ratio']}x the RSS at {small['files']:,} files"
    )
    for r in (small, large):
        if r["exit"] != 0:
            print(f"run of {r['files']} files exited {r['exit']}: {r['stderr_tail']}")
    print(json.dumps({"memory": result}, default=str))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])

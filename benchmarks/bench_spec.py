"""Benchmark: ``parse+validate`` (what ``counterpoint check`` and the language server run) on big specs.

Run with `python -m benchmarks spec [--lines 100000] [--agents 50000] [--one-line-mb 10]
[--hub 5000] [--yaml-mb 1]`.

Shapes (each built in memory; files are not checked, so only the parser and the
validator are timed):

- lines: a few agents whose tasks hold ``--lines`` lines (text, fenced code,
  ``key: value`` lines inside the task); also timed at a tenth of the size, for the
  scaling ratio t(100k)/t(10k) (linear ~ 10, quadratic ~ 100);
- agents: ``--agents`` small agents in a needs/emits chain, one in ten with a
  misspelt need (a did-you-mean per finding) or an unknown setting;
- hub: ``--hub`` builders emitting one signal and needing another, as many reviewers
  the other way round (needers x emitters dependencies, every need on a cycle);
- one-line: a ``## heading`` line of ``--one-line-mb`` MB (words and long runs of blanks);
- yaml: a front matter of ``--yaml-mb`` MB (signals, defaults, checks).

Times are the best of ``--repeat`` runs, wall and CPU (the CPU time holds better on a
busy machine); "gc after" is a full collection right after a run: the parse pauses the
cyclic collector (`counterpoint.engine.spec.gc_pause`), and this is the most the objects it
made can cost the collector later. ``--only agents,hub`` runs some shapes.

Target: 100k lines in <= 2 s. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

from counterpoint.engine.spec import load_spec

PATH = Path("/bench/big.agents.md")
TARGET_S = 2.0


def lines_spec(lines: int, agents: int = 4) -> str:
    """``lines`` lines, most of them in the tasks of ``agents`` agents."""
    out = ["---", "feature: big tasks", "---", "# Big tasks"]
    per = max(1, (lines - len(out)) // agents - 4)
    for a in range(agents):
        out += [f"## agent{a}", "runner: command", "command: ./run.sh", f"emits: done{a}"]
        for i in range(per):
            kind = i % 10
            if kind == 0:
                out.append(f"- step {i}: implement part {i} of the feature ## not a heading")
            elif kind == 3:
                out.append(f"note: task line {i} that looks like a setting  # and a comment")
            elif kind == 5 and i + 2 < per:
                out += ["```python", f"print({i})  # code", "```"]
            else:
                out.append(f"Lorem ipsum {i} dolor sit amet,   consectetur adipiscing elit.")
    return "\n".join(out) + "\n"


def agents_spec(agents: int) -> str:
    """``agents`` small agents, each needing the one before; a typo in one in ten."""
    out = ["---", "feature: many agents", "signals:", "  src_changed: 'src/**'", "---"]
    for i in range(agents):
        out.append(f"## a{i}")
        if i:
            out.append(f"needs: s{i - 1}, a{i - 1}")
        out.append(f"emits: s{i}")
        if i % 10 == 7:
            out.append(f"needs: sx{i}")
        if i % 10 == 9:
            out.append("runer: replay")
        out.append(f"Do part {i}.")
    return "\n".join(out) + "\n"


def hub_spec(agents: int) -> str:
    """``agents`` builders that all emit ``built`` and need ``reviewed``, and as many
    reviewers that need ``built`` and emit ``reviewed``: every need closes a cycle, and
    each builder waits for every reviewer (needers x emitters dependencies)."""
    out = ["# Hub"]
    for i in range(agents):
        out += [f"## build{i}", "emits: built", "needs: reviewed", f"Build part {i}."]
    for i in range(agents):
        out += [f"## review{i}", "emits: reviewed", "needs: built", f"Review part {i}."]
    return "\n".join(out) + "\n"


def one_line_spec(size: int) -> str:
    """One heading line of ``size`` characters: words and runs of blanks, no line break."""
    chunk = "word " * 20 + " \t" * 200 + "x"
    text = "## a " + chunk * (size // len(chunk) + 1)
    return text[:size]


def yaml_spec(size: int) -> str:
    """A front matter of about ``size`` characters, then two agents."""
    out = ["---", "feature: big front matter", "defaults:", "  runner: command", "signals:"]
    total, i = 0, 0
    while total < size:
        line = f"  sig{i}: ['src/part{i}/**/*.py', 'tests/part{i}/*.py']"
        out.append(line)
        total += len(line) + 1
        i += 1
    out += ["checks:", "  - name: lint", "    run: ruff check .", "    after: sig0, sig1", "---"]
    out += ["## a", "emits: sig0", "command: ./a.sh", "Do a.", "## b", "needs: sig1", "Do b."]
    return "\n".join(out) + "\n"


def timed(text: str, repeat: int) -> tuple[float, float, float]:
    """Best wall and CPU times of ``repeat`` parse+validate runs (files not checked), and the
    time of a full garbage collection right after one (what a paused collector leaves)."""
    wall = cpu = collect = float("inf")
    for _ in range(repeat):
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        spec = load_spec(text, PATH, check_files=False)
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
        started = time.perf_counter()
        gc.collect()
        collect = min(collect, time.perf_counter() - started)
        del spec
    return wall, cpu, collect


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks spec")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50_000)
    parser.add_argument("--hub", type=int, default=5_000)
    parser.add_argument("--one-line-mb", type=float, default=10.0)
    parser.add_argument("--yaml-mb", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated shapes (default: all)")
    args = parser.parse_args(argv)
    shapes = {
        "lines/10": lines_spec(args.lines // 10),
        "lines": lines_spec(args.lines),
        "agents": agents_spec(args.agents),
        "hub": hub_spec(args.hub),
        "one-line": one_line_spec(int(args.one_line_mb * 1_000_000)),
        "yaml": yaml_spec(int(args.yaml_mb * 1_000_000)),
    }
    if args.only:
        shapes = {name: text for name, text in shapes.items() if name in args.only.split(",")}
    rows: dict[str, dict[str, float]] = {}
    head = f"{'shape':<10} {'lines':>9} {'MB':>7} {'seconds':>8} {'cpu s':>7} {'gc after':>8}"
    print(f"{head} {'lines/s':>11} {'MB/s':>7}")
    for name, text in shapes.items():
        seconds, cpu, collect = timed(text, args.repeat)
        lines = text.count("\n") + 1
        megabytes = len(text) / 1_000_000
        rows[name] = {
            "lines": lines,
            "mb": round(megabytes, 2),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "gc_after_seconds": round(collect, 3),
            "lines_per_s": round(lines / seconds),
            "mb_per_s": round(megabytes / seconds, 2),
        }
        print(
            f"{name:<10} {lines:>9,} {megabytes:>7.2f} {seconds:>8.3f} {cpu:>7.3f} {collect:>8.3f} "
            f"{lines / seconds:>11,.0f} {megabytes / seconds:>7.2f}"
        )
    result: dict[str, Any] = {"shapes": rows}
    if "lines" in rows and "lines/10" in rows:
        ratio = rows["lines"]["seconds"] / rows["lines/10"]["seconds"]
        target_met = rows["lines"]["seconds"] <= TARGET_S
        print(
            f"100k-lines target (<= {TARGET_S:.0f} s): {'met' if target_met else 'MISSED'}; "
            f"scaling t({args.lines:,})/t({args.lines // 10:,}) = {ratio:.1f} (linear ~ 10)"
        )
        result.update(scaling_ratio=round(ratio, 2), target_met=target_met)
    print(json.dumps({"bench": "spec", **result}))
    return result

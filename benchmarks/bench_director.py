"""Benchmark: the director's overhead and how well its prediction matches a real run.

Run with `python -m benchmarks.bench_director [--files 10000] [--flavors openai,anthropic]`.

- prediction vs a run: the example (examples/course-enrollment) has replay agents whose
  transcripts say how long each works and when it fires its signals; those are given to
  `estimate.predict` as the director's estimates, and the example is then run for real (replay, its
  checks and integrator included). Printed: the predicted wall time and critical path against the
  measured ones (the prediction leaves out the checks' own time, which the run spends before its
  integrator starts).
- the survey: the repository overview the director reads first, on this checkout and on a
  synthetic repository of ``--files`` files (time, files seen, size of the overview).
- a plan end to end against a loopback model that answers at once (tests/support/director.py's
  script: a broken first draft, repaired): wall time, Counterpoint's CPU time, requests, tokens
  in and out per plan, and the size of the first prompt (instructions + overview).

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from counterpoint.engine.director import PlanOptions, plan_feature, predict
from counterpoint.engine.director.prompt import first_request, instructions
from counterpoint.engine.director.survey import survey
from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.log import EventLog
from counterpoint.engine.run import RunOptions
from counterpoint.engine.workspace import WorkspaceTools
from counterpoint_protocol.spec import Spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "course-enrollment"
SPEC_NAME = "course-enrollment.agents.md"


def transcript_estimates(spec: Spec, folder: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds of work per agent (its think steps) and when each signal fires after its emitter
    starts (an emit, or a write of a file its glob matches): what a perfect director would say."""
    estimates: dict[str, float] = {}
    fires: dict[str, float] = {}
    for agent in spec.agents:
        clock = 0.0
        path = folder / str(agent.settings.transcript)
        for line in path.read_text().splitlines():
            step = json.loads(line)
            if step["action"] == "think":
                clock += float(step["seconds"])
            hit = step.get("signal") if step["action"] == "emit" else None
            if step["action"] == "write_file":
                hit = next(
                    (s for s, globs in spec.signals.items() if any(fnmatch(step["path"], g) for g in globs)),
                    None,
                )
            if hit and hit in agent.settings.emits:
                fires[hit] = min(fires.get(hit, clock), clock)
        estimates[agent.name] = clock
    return estimates, fires


async def prediction_vs_run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "example"
        await asyncio.to_thread(
            shutil.copytree, EXAMPLE, folder, ignore=shutil.ignore_patterns("app", ".counterpoint")
        )
        await asyncio.to_thread(subprocess.run, ["git", "init", "-q", str(folder)], check=True)
        spec = await read_spec(folder / SPEC_NAME)
        estimates, fires = transcript_estimates(spec, folder)
        predicted = predict(spec, estimates, fires)
        assert predicted is not None
        log = await EventLog.open(folder / ".counterpoint" / "events.db")
        engine = Engine(folder, log)
        try:
            run = await engine.start_run(spec, RunOptions(trust=True))
            report = await engine.execute(run)
        finally:
            await engine.aclose()
    measured = report.get("metrics", report)
    wall = float(measured.get("wall_s") or report.get("wall_s") or 0.0)
    chain = measured.get("critical_path") or report.get("critical_path") or {}
    return {
        "predicted_s": predicted.predicted_minutes,
        "predicted_critical_path": predicted.critical_path,
        "predicted_speedup": predicted.speedup,
        "sequential_s": predicted.sequential_minutes,
        "measured_wall_s": round(wall, 2),
        "measured_critical_path": chain.get("agents") if isinstance(chain, dict) else chain,
        "measured_speedup": round(predicted.sequential_minutes / wall, 2) if wall else None,
    }


def synthetic_repository(folder: Path, files: int) -> None:
    (folder / ".git").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[tool.pytest.ini_options]\n[tool.ruff]\n[tool.mypy]\n")
    (folder / "package.json").write_text('{"scripts": {"test": "vitest run", "lint": "eslint ."}}')
    per = max(1, files // 100)
    for index in range(files):
        sub = folder / ("src" if index % 3 else "tests") / f"pkg{index // per}"
        sub.mkdir(parents=True, exist_ok=True)
        name = f"test_{index}.py" if index % 3 == 0 else f"mod_{index}.py"
        (sub / name).write_text("x = 1\n")


async def time_survey(root: Path) -> dict[str, Any]:
    tools = WorkspaceTools(root, root)
    started = time.perf_counter()
    found = await survey(tools, "director")
    seconds = time.perf_counter() - started
    text = found.text()
    return {
        "seconds": round(seconds, 3),
        "files_seen": len(found.files),
        "commands": len(found.commands),
        "overview_chars": len(text),
    }


async def one_plan(flavor: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.support.director import DirectorScript, make_project, serve

    model = f"{flavor}:director-test"
    server, llm = serve(flavor, DirectorScript(model))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = make_project(Path(tmp) / "school")
            log = await EventLog.open(project / ".counterpoint" / "events.db")
            options = PlanOptions(
                "Build a course enrollment feature", project, model=model, user_settings={"llm": llm}
            )
            cpu, wall = time.process_time(), time.perf_counter()
            outcome = await plan_feature(log, options)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            overview = (await survey(WorkspaceTools(project, project), "bench")).text()
            await log.close()
    finally:
        server.stop()
    prompt = instructions(model) + first_request(options.request, SPEC_NAME, overview)
    return {
        "flavor": flavor,
        "ok": outcome.ok,
        "rounds": outcome.rounds,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "requests": outcome.usage["requests"],
        "input_tokens": outcome.usage["input_tokens"],
        "output_tokens": outcome.usage["output_tokens"],
        "first_prompt_chars": len(prompt),
        "first_prompt_tokens_approx": len(prompt) // 4,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"prediction": await prediction_vs_run()}
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_repository(Path(tmp) / "big", args.files)
        result["survey"] = {
            "checkout": await time_survey(ROOT),
            f"{args.files}_files": await time_survey(Path(tmp) / "big"),
        }
    from counterpoint.engine.runners.llm import preload

    started = time.perf_counter()
    await preload()  # pydantic-ai and the SDKs, imported once per process (a thread): not a plan's cost
    result["import_s"] = round(time.perf_counter() - started, 3)
    result["plans"] = [await one_plan(f) for f in args.flavors.split(",") if f]
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--flavors", default="openai,anthropic")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    p = result["prediction"]
    print(
        f"{'prediction (example, seconds)':<34} predicted {p['predicted_s']} vs measured wall {p['measured_wall_s']}"
    )
    print(
        f"{'':<34} critical path {' → '.join(p['predicted_critical_path'])} vs {p['measured_critical_path']}"
    )
    print(f"{'':<34} speed-up {p['predicted_speedup']}x predicted vs {p['measured_speedup']}x measured")
    for name, figures in result["survey"].items():
        print(
            f"{'survey ' + name:<34} {figures['seconds']} s, {figures['files_seen']} files, "
            f"{figures['commands']} commands, overview {figures['overview_chars']} chars"
        )
    print(f"{'pydantic-ai and SDKs imported':<34} {result['import_s']} s (once per process)")
    for plan in result["plans"]:
        print(
            f"{'plan (' + plan['flavor'] + ', loopback)':<34} {plan['wall_s']} s wall, {plan['cpu_s']} s CPU, "
            f"{plan['requests']} requests, {plan['input_tokens']} tokens in / {plan['output_tokens']} out, "
            f"first prompt ~{plan['first_prompt_tokens_approx']} tokens"
        )
    print(json.dumps({"director": result}, default=str))
    return result


if __name__ == "__main__":
    main()

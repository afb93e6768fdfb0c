"""Helpers for the integration-check tests: real specs in a folder, real runs through `Engine`."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import Run, RunOptions
from counterpoint_protocol.events import Event
from counterpoint_protocol.spec import Spec

PY = sys.executable
SPEC_FILE = "test.agents.md"


def think(seconds: float) -> dict[str, Any]:
    return {"action": "think", "seconds": seconds}


def emit(signal: str) -> dict[str, Any]:
    return {"action": "emit", "signal": signal}


def write(path: str, content: str) -> dict[str, Any]:
    return {"action": "write_file", "path": path, "content": content}


def edit(path: str, search: str, replace: str) -> dict[str, Any]:
    return {"action": "edit_file", "path": path, "search": search, "replace": replace}


def fail(message: str) -> dict[str, Any]:
    return {"action": "fail", "message": message}


def write_spec(
    folder: Path,
    text: str,
    transcripts: dict[str, list[dict[str, Any]]] | None = None,
    scripts: dict[str, str] | None = None,
) -> Path:
    """Write the spec (``{py}`` stands for this Python), its transcripts and helper scripts."""
    (folder / ".counterpoint").mkdir(parents=True, exist_ok=True)
    for name, steps in (transcripts or {}).items():
        path = folder / "transcripts" / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(step) + "\n" for step in steps))
    for name, source in (scripts or {}).items():
        (folder / name).write_text(source)
    spec = folder / SPEC_FILE
    spec.write_text(text.replace("{py}", PY))
    return spec


@dataclass
class RunResult:
    run: Run
    spec: Spec
    status: str
    events: list[Event]
    report: dict[str, Any]

    def of(self, type: str, actor: str | None = None) -> list[Event]:
        return [e for e in self.events if e.type == type and (actor is None or e.actor == actor)]

    def position(self, type: str, actor: str | None = None, action: str | None = None) -> int:
        """Index of the first event of ``type`` (with that actor/action) in log order."""
        for i, event in enumerate(self.events):
            if event.type == type and actor in (None, event.actor) and action in (None, event.action):
                return i
        raise AssertionError(f"no {type} event for actor={actor} action={action}")

    def findings(self, check: str | None = None) -> list[dict[str, Any]]:
        return [e.metadata for e in self.of("finding", check)]


async def run_spec(spec_path: Path, **options: Any) -> RunResult:
    """Run the spec to the end through a real `Engine` (checks attached, watcher on)."""
    spec = await read_spec(spec_path)
    assert not spec.has_errors, spec.diagnostics
    root = spec_path.parent
    engine = await Engine.open(root)
    try:
        run = engine.create_run(spec, RunOptions(**options))
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        await engine.aclose()
    return RunResult(run, spec, run.result_status, events, report)


def check_runs(result: RunResult, check: str) -> list[str]:
    """The check's ``check_started``/``check_finished`` events in order, as their types."""
    return [
        e.type for e in result.events if e.actor == check and e.type in ("check_started", "check_finished")
    ]


def assert_alternate(result: RunResult, check: str) -> int:
    """Runs of one check never overlap: started, finished, started, ... Returns the run count."""
    kinds = check_runs(result, check)
    assert kinds, f"check {check} never ran"
    assert kinds == ["check_started", "check_finished"] * (len(kinds) // 2), kinds
    return len(kinds) // 2

"""The watcher's start never holds agents back, and a file written before it is ready still fires.

Real runs through `Engine`, real files; the watcher's start is held on a gate that only the run
itself can open (when an agent has finished), so ordering is proven by events, not by clocks.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunObserver, RunOptions
from counterpoint.engine.watch.watcher import WorkspaceWatcher
from counterpoint_protocol.events import AgentStatus

from tests.integration.helpers import think, write, write_spec

GATE_LIMIT_S = 30.0


async def test_agents_needing_nothing_start_before_the_watcher_and_early_files_still_fire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_path = write_spec(
        tmp_path,
        "---\nfeature: Early\nsignals:\n  schema_ready: app/*.py\n---\n# Early\n\n"
        "## writer\nrunner: replay\ntranscript: transcripts/writer.jsonl\n- writes the schema\n\n"
        "## waiter\nrunner: replay\nneeds: schema_ready\ntranscript: transcripts/waiter.jsonl\n- after\n",
        {"writer": [write("app/schema.py", "class Course: ...\n")], "waiter": [think(0.01)]},
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "other.py").write_text("existing = True\n")
    gate = threading.Event()
    opened_by_run: list[bool] = []
    original_start = WorkspaceWatcher.start

    async def gated_start(self: WorkspaceWatcher) -> None:
        # Watching begins only once the writer has finished (or the limit passed: a failure).
        opened_by_run.append(await asyncio.to_thread(gate.wait, GATE_LIMIT_S))
        await original_start(self)

    monkeypatch.setattr(WorkspaceWatcher, "start", gated_start)
    spec = await read_spec(spec_path)
    engine = await Engine.open(tmp_path)
    try:
        run = engine.create_run(spec, RunOptions())

        class WriterDone(RunObserver):
            def on_agent_state(self, name: str, state: AgentStatus) -> None:
                if name == "writer" and state.terminal:
                    gate.set()

        run.observe(WriterDone())
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        gate.set()
        await engine.aclose()
    assert opened_by_run == [True], "the writer did not finish before the watcher was ready"
    assert report["status"] == "succeeded"
    order = [(e.type, e.actor, e.action) for e in events if e.type in ("agent_finished", "signal")]
    assert order.index(("agent_finished", "writer", "succeeded")) < order.index(
        ("signal", None, "schema_ready")
    )
    signal = next(e for e in events if e.type == "signal" and e.action == "schema_ready")
    assert signal.metadata["path"] == "app/schema.py"
    assert sum(1 for e in events if e.type == "signal") == 1  # app/other.py existed: no signal
    waiter = [e.action for e in events if e.actor == "waiter" and e.type.startswith("agent_")]
    assert waiter[-1] == "succeeded"

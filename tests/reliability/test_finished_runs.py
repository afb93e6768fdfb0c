"""An engine that lives for many runs (the language server) keeps O(1) finished runs in memory;
older runs live on in the event log, where report, rerun and resume read them."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from counterpoint.engine.engine import Engine

from tests.support.load import run_once, write_workspace

SPEC = (
    "---\nfeature: Many runs\nrunner: replay\n---\n# Many runs\n\n"
    "## first\ntranscript: think.jsonl\nemits: [done]\n- think\n\n"
    "## second\ntranscript: think.jsonl\nneeds: [first]\n- think\n"
)


async def test_finished_runs_are_let_go_and_old_ones_still_report_and_rerun(tmp_path: Path) -> None:
    spec = write_workspace(
        tmp_path,
        SPEC,
        {"think": [{"action": "think", "seconds": 0.01}, {"action": "emit", "signal": "done"}]},
    )
    other = tmp_path / "other.agents.md"
    other.write_text(SPEC.replace("Many runs", "Other"))
    engine = await Engine.open(tmp_path)
    try:
        ids: list[str] = []
        gone: list[weakref.ref[object]] = []
        for _ in range(6):
            status, report = await run_once(engine, spec)
            assert status == "succeeded", report["agents"]
            ids.append(report["run_id"])
            gone.append(weakref.ref(engine.runs[report["run_id"]]))
        status, report = await run_once(engine, other)
        assert status == "succeeded"
        # The latest finished run of each spec stays (editors show it); the rest are let go.
        assert sorted(engine.runs) == sorted([ids[-1], report["run_id"]])
        gc.collect()
        assert [ref() is None for ref in gone] == [True] * 5 + [False]

        old = await engine.write_report(ids[0])
        assert old["run_id"] == ids[0] and [a["status"] for a in old["agents"]] == ["succeeded"] * 2
        rerun = await engine.continue_run(ids[0], reason="rerun", agent="second")
        again = await engine.execute(rerun)
        assert rerun.result_status == "succeeded" and again["run_id"] == ids[0]
        assert sorted(engine.runs) == sorted([ids[0], report["run_id"]])
    finally:
        await engine.aclose()

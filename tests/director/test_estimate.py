"""The predicted schedule of a planned spec: critical path, one after another, with max_parallel."""

from __future__ import annotations

from pathlib import Path

from counterpoint.engine.director import describe, predict
from counterpoint.engine.spec import load_spec
from counterpoint_protocol.spec import Spec


def spec(body: str, front: str = "") -> Spec:
    text = f"---\nrunner: replay\n{front}---\n# F\n{body}"
    return load_spec(text, Path("/tmp/x/f.agents.md"), check_files=False)


def test_the_write_up_feature_four_parallel_builders_and_an_integrator() -> None:
    """The write-up's example: backend 3h, frontend 3h, quality 2h, docs 1h in parallel, then the
    problem-solver 30 min: 9h30 one after another, 3h30 in parallel (2.71x)."""
    planned = spec("## backend\n## frontend\n## quality\n## docs\n## integrator\nintegrate: true\n")
    got = predict(planned, {"backend": 180, "frontend": 180, "quality": 120, "docs": 60, "integrator": 30})
    assert got is not None
    assert got.sequential_minutes == 570 and got.predicted_minutes == 210
    assert got.critical_path_minutes == 210 and got.speedup == 2.71
    assert got.critical_path[-1] == "integrator" and got.critical_path[0] in ("backend", "frontend")
    assert "predicted speed-up 2.71x" in describe(got)


def test_a_signal_that_fires_early_releases_its_needers_early() -> None:
    planned = spec(
        "## backend\nemits: schema_ready\n## frontend\nneeds: schema_ready\n## docs\nneeds: backend\n"
    )
    estimates = {"backend": 60, "frontend": 60, "docs": 10}
    early = predict(planned, estimates, {"schema_ready": 15})
    late = predict(planned, estimates)
    assert early is not None and late is not None
    assert early.critical_path == ["backend", "frontend"] and early.critical_path_minutes == 75
    assert late.critical_path == ["backend", "frontend"] and late.critical_path_minutes == 120
    assert early.speedup == round(130 / 75, 2)


def test_max_parallel_caps_the_prediction_but_not_the_critical_path() -> None:
    planned = spec("## a\n## b\n## c\n## d\n", front="max_parallel: 2\n")
    got = predict(planned, {"a": 10, "b": 10, "c": 10, "d": 10})
    assert got is not None
    assert got.critical_path_minutes == 10 and got.predicted_minutes == 20 and got.speedup == 2.0
    assert "at max_parallel 2" in describe(got)


def test_missing_estimates_are_defaulted_and_said() -> None:
    got = predict(spec("## a\n## b\nneeds: a\n"), {"a": 5})
    assert got is not None
    assert got.defaulted == ["b"] and got.estimates == {"a": 5, "b": 30}
    assert got.critical_path == ["a", "b"] and got.critical_path_minutes == 35 and got.speedup == 1.0


def test_a_cycle_has_no_prediction() -> None:
    cyclic = spec("## a\nneeds: b_done\nemits: a_done\n## b\nneeds: a_done\nemits: b_done\n")
    assert predict(cyclic, {"a": 1, "b": 1}) is None


def test_a_file_signal_no_agent_declares_is_fired_from_the_start() -> None:
    planned = spec("## a\nneeds: seed\n", front='signals:\n  seed: "data/*.csv"\n')
    got = predict(planned, {"a": 7})
    assert got is not None and got.critical_path_minutes == 7

"""Event → UI (`features/run_events.py`): events fed to the router, in process, and the
notifications, progress, messages, refreshes and diagnostics it sends to a fake server."""

from __future__ import annotations

from pathlib import Path

import pytest
from counterpoint.lsp.features import run_events
from counterpoint.lsp.features.documents import DiagnosticStore
from counterpoint.lsp.features.findings import builtin_source
from counterpoint.lsp.features.lenses import ViewRefresh
from counterpoint.lsp.features.progress import ProgressManager
from counterpoint.lsp.features.run_events import EventRouter, agent_token, run_token
from counterpoint_protocol.events import AgentStatus, EventType
from lsprotocol import types
from pygls.uris import from_fs_path

from tests.lsp_unit.fakes import FakeAgent, FakeRun, FakeServer, event

E = EventType


class Refreshes:
    def __init__(self) -> None:
        self.count = 0

    def refresh(self) -> None:
        self.count += 1


def router_for(run: FakeRun) -> tuple[FakeServer, EventRouter, Refreshes]:
    server = FakeServer(runs={run.run_id: run})
    server.add_part(ProgressManager(server))  # type: ignore[arg-type]
    server.add_part(DiagnosticStore(server))  # type: ignore[arg-type]
    refreshes = Refreshes()
    server._parts[ViewRefresh] = refreshes
    return server, EventRouter(server), refreshes  # type: ignore[arg-type]


async def test_a_runs_events_become_notifications_progress_and_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_events, "OUTPUT_INTERVAL_S", 3600.0)  # every output after the first is held
    run = FakeRun("r1", {"a": FakeAgent("a"), "b": FakeAgent("b", AgentStatus.WAITING, {"agent:a"})})
    server, router, refreshes = router_for(run)
    progress = server.part(ProgressManager)

    router.on_event(event(1, "r1", E.RUN_STARTED, spec="/ws/demo.agents.md"))
    await server.settle()  # the client has created the run's token
    run.agents["a"].state = AgentStatus.RUNNING
    router.on_event(event(2, "r1", E.AGENT_STARTED, "a"))
    await server.settle()
    assert server.of_kind("begin") == [
        ("begin", run_token("r1"), "Counterpoint: Demo", "starting 2 agents"),
        ("begin", agent_token("r1", "a"), "agent a", "started"),
    ]
    progress.flush()
    assert ("report", run_token("r1"), "running a · waiting: b on a · 0/2 done") in server.of_kind("report")

    for n, line in enumerate(["one", "two", "three"]):
        router.on_event(event(3 + n, "r1", E.AGENT_OUTPUT, "a", line=line))
    progress.flush()
    assert server.of_kind("report")[-1] == ("report", agent_token("r1", "a"), "three")
    outputs = [p["metadata"]["line"] for m, p in server.notifications if p["type"] == E.AGENT_OUTPUT]
    assert outputs == ["one"]  # throttled: the rest waits for the timer, which sends the last one
    router._flush_output()
    outputs = [p["metadata"]["line"] for m, p in server.notifications if p["type"] == E.AGENT_OUTPUT]
    assert outputs == ["one", "three"]

    run.agents["a"].state = AgentStatus.FAILED
    router.on_event(event(6, "r1", E.AGENT_FINISHED, "a", "failed", error="boom", duration_s=1.25))
    assert ("end", agent_token("r1", "a"), "failed in 1.2s") in server.sent
    assert ("show", "Error", "Counterpoint: agent a failed: boom") in server.sent

    run.agents["b"].state = AgentStatus.SKIPPED
    router.on_event(event(7, "r1", E.RUN_FINISHED, None, "failed", agents={"a": "failed", "b": "skipped"}))
    assert ("end", run_token("r1"), "failed") in server.sent
    assert ("show", "Error", "Counterpoint: run r1 failed: a failed, b skipped") in server.sent
    assert progress.tokens == {}  # every token ended
    assert len(server.of_kind("end")) == 2

    assert [p["id"] for m, p in server.notifications] == [1, 2, 3, 5, 6, 7]
    assert {m for m, p in server.notifications} == {"counterpoint/event"}
    assert refreshes.count == 4  # run_started, agent_started, agent_finished, run_finished
    progress.end_all()


async def test_a_succeeded_run_says_so_and_a_cancelled_one_warns() -> None:
    run = FakeRun("r1", {"a": FakeAgent("a", AgentStatus.SUCCEEDED)})
    server, router, _ = router_for(run)
    router.on_event(event(1, "r1", E.RUN_FINISHED, None, "succeeded", agents={"a": "succeeded"}, wall_s=2.0))
    router.on_event(event(2, "r1", E.RUN_FINISHED, None, "cancelled", agents={}))
    assert server.of_kind("show") == [
        ("show", "Info", "Counterpoint: run r1 succeeded (1 agents in 2.0s)"),
        ("show", "Warning", "Counterpoint: run r1 cancelled: no agents"),
    ]


async def test_a_bad_event_is_logged_and_the_next_one_still_handled(caplog: pytest.LogCaptureFixture) -> None:
    server, router, _ = router_for(FakeRun("r1", {}))
    router.on_event(event(1, "r1", E.RUN_FINISHED, None, "succeeded", agents={}))  # no wall_s
    router.on_event(event(2, "unknown-run", E.NOTICE, None, "note"))  # a run this server does not know
    assert "handling event 1 failed" in caplog.text
    assert [p["id"] for m, p in server.notifications] == [1, 2]


async def test_a_checks_findings_replace_its_diagnostics_file_by_file(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text("one\ntwo\nthree\n")
    uri = from_fs_path(str(source))
    run = FakeRun("r1", {})
    server, router, _ = router_for(run)

    finding = {"abs_path": str(source), "range": {"line": 1, "col": 0, "end_col": 3}, "severity": "warning"}
    router.on_event(event(1, "r1", E.CHECK_STARTED, "lint"))
    router.on_event(event(2, "r1", E.FINDING, "lint", message="bad name", rule="E1", **finding))
    router.on_event(event(3, "r1", E.FINDING, "lint", message="no file"))  # no abs_path: no diagnostic
    assert server.published == []  # nothing before the check finishes
    router.on_event(event(4, "r1", E.CHECK_FINISHED, "lint"))
    await server.settle()
    [published] = server.published
    assert published.uri == uri
    [diagnostic] = published.diagnostics
    assert diagnostic.range == types.Range(types.Position(1, 0), types.Position(1, 3))
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert (diagnostic.message, diagnostic.code, diagnostic.source) == ("bad name", "E1", "counterpoint/lint")

    router.on_event(event(5, "r1", E.CHECK_STARTED, "lint"))  # the next run of the check: clean
    router.on_event(event(6, "r1", E.CHECK_FINISHED, "lint"))
    await server.settle()
    assert server.published[-1].uri == uri and server.published[-1].diagnostics == []


async def test_built_in_findings_publish_at_once_and_the_next_run_clears_them(tmp_path: Path) -> None:
    spec = tmp_path / "demo.agents.md"
    spec.write_text("# Demo\n\nemits: done\n")
    run = FakeRun("r1", {})
    server, router, _ = router_for(run)
    finding = {"abs_path": str(spec), "range": {"line": 2}, "severity": "warning", "builtin": True}
    router.on_event(event(1, "r1", E.FINDING, "integration", message="never fired", **finding))
    await server.settle()
    store = server.part(DiagnosticStore)
    uri = from_fs_path(str(spec))
    assert list(store.by_uri[uri]) == [builtin_source(str(run.spec.path))]
    assert [d.message for d in server.published[-1].diagnostics] == ["never fired"]

    router.on_event(event(2, "r2", E.RUN_STARTED, spec=str(run.spec.path)))
    assert server.published[-1].uri == uri and server.published[-1].diagnostics == []

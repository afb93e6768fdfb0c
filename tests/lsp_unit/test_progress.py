"""Work-done progress (`features/progress.py`): coalesced reports, and an end for every token that
was begun, whatever fails on the way."""

from __future__ import annotations

from counterpoint.lsp.features import progress
from counterpoint.lsp.features.progress import ProgressManager

from tests.lsp_unit.fakes import FakeServer


async def opened(count: int, server: FakeServer | None = None) -> tuple[FakeServer, ProgressManager]:
    server = server or FakeServer()
    manager = ProgressManager(server)  # type: ignore[arg-type]
    for i in range(count):
        manager.begin(f"t{i}", f"agent {i}", "started")
    await server.settle()
    return server, manager


async def test_a_flush_reports_at_most_n_tokens_and_every_token_gets_its_turn() -> None:
    count = progress.REPORTS_PER_FLUSH * 3 + 1
    server, manager = await opened(count)
    assert len(server.of_kind("begin")) == count
    for i in range(count):
        manager.update(f"t{i}", f"line 1 of {i}")
    rounds = []
    while sent := manager.flush():
        rounds.append(sent)
    assert rounds == [progress.REPORTS_PER_FLUSH] * 3 + [1]
    assert sorted(r[1] for r in server.of_kind("report")) == sorted(f"t{i}" for i in range(count))
    # A token changed again waits behind those not reported for longer: t0 was reported first,
    # so after everyone changes again it is in the first batch, and the last one is in the last.
    for i in range(count):
        manager.update(f"t{i}", f"line 2 of {i}")
    server.sent.clear()
    manager.flush()
    assert [r[1] for r in server.of_kind("report")] == [f"t{i}" for i in range(progress.REPORTS_PER_FLUSH)]


async def test_an_unchanged_token_is_not_reported_and_a_message_is_capped() -> None:
    server, manager = await opened(2)
    manager.update("t0", "x" * 1000)
    manager.update("t1", "started")  # what it already says
    assert manager.flush() == 1
    assert server.of_kind("report") == [("report", "t0", "x" * 200)]
    assert manager.flush() == 0


async def test_a_failing_report_does_not_stop_the_others() -> None:
    server, manager = await opened(3)
    server.work_done_progress.fail_report.add("t0")
    for i in range(3):
        manager.update(f"t{i}", "new")
    assert manager.flush() == 3
    assert [r[1] for r in server.of_kind("report")] == ["t1", "t2"]


async def test_every_token_is_ended_even_when_an_end_fails() -> None:
    server, manager = await opened(3)
    server.work_done_progress.fail_end.add("t1")
    manager.end("t0", "succeeded")
    manager.end("t1", "failed")
    manager.end_all()
    assert server.of_kind("end") == [("end", "t0", "succeeded"), ("end", "t2", "")]
    assert manager.tokens == {}
    assert server.work_done_progress.tokens == {}  # pygls forgets them all, t1 included
    manager.update("t2", "late")  # ended: ignored, never reported
    assert manager.flush() == 0


async def test_an_end_asked_while_the_token_is_created_follows_its_begin() -> None:
    server = FakeServer()
    manager = ProgressManager(server)  # type: ignore[arg-type]
    manager.begin("t0", "agent a", "started")
    manager.end("t0", "succeeded")  # the client has not answered the create yet
    assert server.of_kind("end") == []
    await server.settle()
    assert [m[0] for m in server.sent] == ["create", "begin", "end"]
    assert manager.tokens == {}


async def test_a_refused_token_falls_back_to_log_lines_and_is_forgotten() -> None:
    server = FakeServer()
    server.work_done_progress.refuse_create.add("t0")
    manager = ProgressManager(server)  # type: ignore[arg-type]
    manager.begin("t0", "agent a", "started")
    await server.settle()
    assert server.sent == [("log", "agent a: started")]
    assert manager.tokens == {}
    manager.end("t0", "done")  # nothing to end: no stray end for a token the client refused
    assert server.of_kind("end") == []


async def test_without_client_support_begin_and_end_are_log_lines() -> None:
    server = FakeServer(work_done_progress=False)
    manager = ProgressManager(server)  # type: ignore[arg-type]
    manager.begin("t0", "agent a")
    manager.update("t0", "working")
    assert manager.flush() == 1  # tracked, but nothing is sent between begin and end
    manager.end("t0", "succeeded")
    assert server.sent == [("log", "agent a: started"), ("log", "agent a: succeeded")]


async def test_cancel_calls_what_the_token_stands_for() -> None:
    server = FakeServer()
    cancelled = []
    manager = ProgressManager(server)  # type: ignore[arg-type]
    manager.begin("run", "run", on_cancel=lambda: cancelled.append("run"))
    manager.begin("plain", "no cancel")
    assert manager.cancel("run") is True
    assert manager.cancel("plain") is False
    assert manager.cancel("unknown") is False
    assert cancelled == ["run"]
    manager.end_all()

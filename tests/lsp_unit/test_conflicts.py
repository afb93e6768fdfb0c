"""Conflicts of isolated agents as diagnostics (`features/conflicts.py`), in process: events fed to
the feature, and what a fake server publishes for the user's files and the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from counterpoint.lsp.features import conflicts
from counterpoint.lsp.features.conflicts import Conflicts
from counterpoint.lsp.features.documents import DiagnosticStore, SpecDocuments
from counterpoint_protocol.events import ConflictFile, ConflictPayload, ConflictSide, EventType, LineSpan
from lsprotocol import types
from pygls.uris import from_fs_path

from tests.lsp_unit.fakes import FakeServer, event

E = EventType
SPEC = """---
isolation: worktree
---
# Clash

## left
transcript: transcripts/left.jsonl

## right
transcript: transcripts/right.jsonl
"""
APP = "".join(f"line {n}\n" for n in range(1, 31))


class Feed:
    """A fake server with the diagnostics store, the feature, and numbered events."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.server = FakeServer()
        self.server.specs = {}  # type: ignore[attr-defined]  # what SpecDocuments keeps its parses in
        self.server.add_part(DiagnosticStore(self.server))  # type: ignore[arg-type]
        self.server.add_part(SpecDocuments(self.server))  # type: ignore[arg-type]
        self.feature = Conflicts(self.server)  # type: ignore[arg-type]
        self.n = 0

    def send(self, type: EventType, actor: str | None = None, action: str | None = None, **meta: Any) -> None:
        self.n += 1
        self.feature.on_event(event(self.n, meta.pop("run", "r1"), type, actor, action, **meta))

    def start(self, run: str = "r1", isolated: bool = True) -> None:
        isolation = {"base": "b" * 40, "integration": "ref", "toplevel": str(self.repo)} if isolated else None
        meta: dict[str, Any] = {"spec": str(self.repo / "clash.agents.md"), "agents": ["left", "right"]}
        if isolation:
            meta["isolation"] = isolation
        self.send(E.RUN_STARTED, None, "Clash", run=run, **meta)

    def last(self, path: Path) -> list[types.Diagnostic]:
        uri = from_fs_path(str(path))
        found = [p for p in self.server.published if p.uri == uri]
        return list(found[-1].diagnostics) if found else []


def conflict(
    key: str, agents: list[str], *files: tuple[str, dict[str, list[tuple[int, int]]]]
) -> dict[str, Any]:
    """A `ConflictPayload`'s metadata: files as (path, {agent: [(start, end), ...]})."""
    payload = ConflictPayload(
        key=key,
        agents=agents,
        files=[
            ConflictFile(
                path=path,
                sides=[
                    ConflictSide(
                        agent=name, commit="c" * 40, lines=[LineSpan(start=s, end=e) for s, e in spans]
                    )
                    for name, spans in sides.items()
                ],
            )
            for path, sides in files
        ],
        message=f"{agents[0]}'s work conflicts with {agents[1]}'s",
    )
    return payload.metadata()


@pytest.fixture
def feed(tmp_path: Path) -> Feed:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text(APP)
    (tmp_path / "clash.agents.md").write_text(SPEC)
    return Feed(tmp_path)


def test_event_type_names_are_the_protocols() -> None:
    assert conflicts.RUN_STARTED == E.RUN_STARTED
    assert conflicts.RUN_RESUMED == E.RUN_RESUMED
    assert conflicts.RUN_FINISHED == E.RUN_FINISHED
    assert conflicts.CONFLICT_PREDICTED == E.CONFLICT_PREDICTED
    assert conflicts.CONFLICT_CLEARED == E.CONFLICT_CLEARED
    assert conflicts.MERGE_CONFLICT == E.MERGE_CONFLICT
    assert conflicts.CHECK_FINISHED == E.CHECK_FINISHED


async def test_a_predicted_conflict_is_a_warning_on_both_sides_lines_replaced_then_cleared(
    feed: Feed,
) -> None:
    app, util = feed.repo / "app.py", feed.repo / "lib" / "util.py"
    feed.start()
    key = "predict:left+right"
    feed.send(
        E.CONFLICT_PREDICTED,
        "left",
        "app.py",
        **conflict(key, ["left", "right"], ("app.py", {"left": [(5, 5)], "right": [(5, 5)]})),
    )
    await feed.server.settle()
    (shown,) = feed.last(app)
    assert shown.severity == types.DiagnosticSeverity.Warning
    assert shown.source == "counterpoint/conflicts" and shown.code == "conflict-predicted"
    assert shown.message == "predicted conflict: left and right both change these lines"
    assert (shown.range.start.line, shown.range.end.line) == (4, 4)
    assert shown.range.end.character == len("line 5")

    # Predicted again (same pair): the new lines replace the old, a file no longer in it is emptied.
    feed.send(
        E.CONFLICT_PREDICTED,
        "right",
        "app.py",
        **conflict(
            key,
            ["right", "left"],
            ("app.py", {"right": [(7, 8)], "left": [(2, 2)]}),
            ("lib/util.py", {"right": [(1, 1)], "left": [(1, 1)]}),
        ),
    )
    await feed.server.settle()
    by_line = {d.range.start.line: d for d in feed.last(app)}
    assert sorted(by_line) == [1, 6]
    assert (
        by_line[6].message
        == "predicted conflict: right and left both change these lines (lines 7-8 of right's version)"
    )
    assert (
        by_line[1].message
        == "predicted conflict: left and right both change these lines (lines 2-2 of left's version)"
    )
    assert by_line[6].range.end.line == 7
    assert len(feed.last(util)) == 1
    feed.send(
        E.CONFLICT_PREDICTED,
        "right",
        "app.py",
        **conflict(key, ["right", "left"], ("app.py", {"right": [(9, 9)], "left": [(9, 9)]})),
    )
    await feed.server.settle()
    assert [d.range.start.line for d in feed.last(app)] == [8]
    assert feed.last(util) == []

    feed.send(E.CONFLICT_CLEARED, "right", key, key=key, agents=["right", "left"])
    await feed.server.settle()
    assert feed.last(app) == []


async def test_the_integration_side_and_a_file_without_lines(feed: Feed) -> None:
    feed.start()
    meta = conflict(
        "predict:integration+left", ["left", "integration"], ("app.py", {"left": [], "integration": []})
    )
    meta["files"][0]["kind"] = "modify/delete"
    feed.send(E.CONFLICT_PREDICTED, "left", "app.py", **meta)
    await feed.server.settle()
    (shown,) = feed.last(feed.repo / "app.py")
    assert shown.range.start.line == 0
    assert shown.message == (
        "predicted conflict: left and the merged work (integration) both change this file (modify/delete)"
    )


async def test_predictions_end_with_the_run_and_a_clear_right_after_a_prediction_wins(feed: Feed) -> None:
    app = feed.repo / "app.py"
    feed.start()
    one = conflict("predict:left+right", ["left", "right"], ("app.py", {"left": [(3, 3)], "right": [(3, 3)]}))
    feed.send(E.CONFLICT_PREDICTED, "left", "app.py", **one)
    feed.send(E.CONFLICT_CLEARED, "left", "k", key="predict:left+right", agents=["left", "right"])
    await feed.server.settle()
    assert feed.last(app) == []

    feed.send(E.CONFLICT_PREDICTED, "left", "app.py", **one)
    await feed.server.settle()
    assert len(feed.last(app)) == 1
    feed.send(E.RUN_FINISHED, None, "failed", agents={"left": "failed", "right": "succeeded"})
    await feed.server.settle()
    assert feed.last(app) == []
    assert feed.feature.runs == {}


async def test_a_run_that_is_not_isolated_or_unknown_shows_no_prediction(feed: Feed) -> None:
    one = conflict("predict:left+right", ["left", "right"], ("app.py", {"left": [(3, 3)], "right": [(3, 3)]}))
    feed.send(E.CONFLICT_PREDICTED, "left", "app.py", **one)  # no run_started seen
    feed.start(isolated=False)
    feed.send(E.CONFLICT_PREDICTED, "left", "app.py", **one)
    await feed.server.settle()
    assert feed.server.published == []


async def test_a_merge_conflict_is_an_error_on_the_agents_heading_until_resolved(feed: Feed) -> None:
    spec = feed.repo / "clash.agents.md"
    heading = SPEC.splitlines().index("## right")
    feed.start()
    meta = conflict("merge:right", ["right", "left"], ("app.py", {"right": [(5, 5)], "left": [(5, 5)]}))
    feed.send(E.MERGE_CONFLICT, "right", "app.py", **meta)
    await feed.server.settle()
    (shown,) = feed.last(spec)
    assert shown.severity == types.DiagnosticSeverity.Error and shown.code == "merge-conflict"
    assert shown.message == "merge conflict: right's work conflicts with left's"
    assert shown.range.start.line == heading and shown.range.end.character == len("## right")

    # The conflicts check still holds its finding: the error stays, through the run's end too.
    finding_key = "merge:right:app.py:right:4"
    feed.send(E.CHECK_FINISHED, "conflicts", "failed", keys=[finding_key])
    feed.send(E.RUN_FINISHED, None, "failed", agents={})
    await feed.server.settle()
    assert len(feed.last(spec)) == 1
    # A new run of the spec: the old run's conflict is history.
    feed.start(run="r2")
    await feed.server.settle()
    assert feed.last(spec) == []
    assert list(feed.feature.runs) == ["r2"]

    # In the new run, the integrator resolves it: the check passes with no open key.
    feed.send(E.MERGE_CONFLICT, "left", "app.py", run="r2", **{**meta, "key": "merge:left", "message": ""})
    await feed.server.settle()
    (shown,) = feed.last(spec)
    assert shown.message == "merge conflict: left's work conflicts with right's in app.py"
    assert shown.range.start.line == SPEC.splitlines().index("## left")
    feed.send(E.CHECK_FINISHED, "conflicts", "passed", run="r2", keys=[])
    await feed.server.settle()
    assert feed.last(spec) == []


async def test_a_merge_conflict_uses_the_open_spec_document(feed: Feed) -> None:
    spec = feed.repo / "clash.agents.md"
    edited = SPEC.replace("# Clash\n", "# Clash\n\nA new paragraph.\n\n")
    uri = from_fs_path(str(spec))
    assert uri is not None
    feed.server.workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="markdown", version=2, text=edited)
    )
    feed.start()
    feed.send(E.MERGE_CONFLICT, "left", "app.py", **conflict("merge:left", ["left", "right"], ("app.py", {})))
    await feed.server.settle()
    (shown,) = feed.last(spec)
    assert shown.range.start.line == edited.splitlines().index("## left")

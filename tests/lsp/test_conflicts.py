"""Conflicts of isolated agents as diagnostics, over the real server (VS Code's and Neovim's
capabilities): two replayed agents change the same line of a file in a git repository the test
makes, and wait for a signal the test fires (by writing a file) only once it has seen the
conflict predicted, so the prediction is shown while both still work. Then one's merge conflicts
(``on_conflict: fail``): an error on its heading in the spec, naming both; the predicted warnings
are gone by the run's end. The run is discarded at the end (its failed agent's copy is kept until
then)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pytest_lsp import LanguageClient

from tests.lsp.helpers import events_of, execute, get, open_doc, wait_for
from tests.support.git import make_repo, write_files

LINES = "".join(f"line {n}\n" for n in range(1, 31))
SPEC = """---
isolation: worktree
on_conflict: fail
signals:
  go: "go.txt"
---
# Clash

## left
transcript: transcripts/left.jsonl
- change line 5

## right
transcript: transcripts/right.jsonl
- change line 5 too
"""
SOURCE = "counterpoint/conflicts"


def steps(text: str, *, then: float = 0.0) -> str:
    edit = {"action": "edit_file", "path": "app.py", "search": "line 5\n", "replace": f"{text}\n"}
    wait = {"action": "wait", "signal": "go", "timeout": 120}
    done = [{"action": "think", "seconds": then}] if then else []
    return "".join(json.dumps(step) + "\n" for step in [edit, wait, *done])


def mounts_under(folder: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mounts:
        return [line.split()[4] for line in mounts if line.split()[4].startswith(f"{folder}/")]


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A git repository with app.py committed and the spec and transcripts beside it (the
    `client` fixture opens the server on it). Copies a failed test left mounted are unmounted."""
    repo = make_repo(
        tmp_path_factory.mktemp("conflicts") / "repo", {".gitignore": ".counterpoint/\n", "app.py": LINES}
    )
    write_files(
        repo,
        {
            "transcripts/left.jsonl": steps("LEFT"),
            "transcripts/right.jsonl": steps("RIGHT", then=0.2),
            "clash.agents.md": SPEC,
        },
    )
    yield repo
    for mount in reversed(mounts_under(repo)):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


def diagnostics_of(client: LanguageClient, path: Path, code: str) -> list[types.Diagnostic]:
    """The last published conflict diagnostics of ``path`` with this code."""
    for uri, found in client.diagnostics.items():
        if to_fs_path(uri) == str(path):
            return [d for d in found if d.source == SOURCE and d.code == code]
    return []


async def test_a_conflict_is_predicted_while_both_work_then_met_on_the_agents_heading(
    client: LanguageClient, workspace: Path
) -> None:
    spec = workspace / "clash.agents.md"
    uri = from_fs_path(str(spec))
    assert uri is not None
    open_doc(client, uri, SPEC)
    run_id = get(await execute(client, Commands.RUN, {"uri": uri}), "runId")
    assert run_id
    try:
        await predicted_then_met(client, workspace, run_id)
    finally:
        if not events_of(client, run_id, "run_finished"):
            await execute(client, Commands.CANCEL, {"runId": run_id})
            (workspace / "go.txt").write_text("go\n")
            await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=60)
        discarded = await execute(client, Commands.DISCARD, {"runId": run_id})
    assert mounts_under(workspace) == []
    assert any(copy.endswith("/right") or copy.endswith("/left") for copy in get(discarded, "working_copies"))


async def predicted_then_met(client: LanguageClient, workspace: Path, run_id: str) -> None:
    spec, app = (workspace / "clash.agents.md").resolve(), (workspace / "app.py").resolve()

    warnings: list[types.Diagnostic] = []

    def predicted() -> bool:
        warnings[:] = diagnostics_of(client, app, "conflict-predicted")
        return bool(warnings)

    await wait_for(predicted, timeout=60)
    # Both agents still wait for `go`: the run cannot have ended, nor merged anything.
    assert not events_of(client, run_id, "run_finished") and not events_of(client, run_id, "agent_merged")
    (warning,) = warnings
    assert warning.severity == types.DiagnosticSeverity.Warning
    assert warning.range.start.line == warning.range.end.line == 4  # line 5, where both write
    assert "left" in warning.message and "right" in warning.message, warning.message
    assert warning.message.startswith("predicted conflict:")
    (event,) = events_of(client, run_id, "conflict_predicted")[:1]
    assert set(get(event, "metadata")["agents"]) == {"left", "right"}
    assert (workspace / "app.py").read_text() == LINES  # the user's file is untouched

    (workspace / "go.txt").write_text("go\n")
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=60)
    (conflict,) = events_of(client, run_id, "merge_conflict")
    loser = get(conflict, "actor")
    other = ({"left", "right"} - {loser}).pop()
    heading = SPEC.splitlines().index(f"## {loser}")

    errors: list[types.Diagnostic] = []

    def met() -> bool:
        errors[:] = diagnostics_of(client, spec, "merge-conflict")
        return bool(errors)

    await wait_for(met, timeout=10)
    (error,) = errors
    assert error.severity == types.DiagnosticSeverity.Error
    assert error.range.start.line == heading, (error.range, heading)
    assert error.range.end.character == len(f"## {loser}")
    assert loser in error.message and other in error.message, error.message
    # The run is over: no predicted conflict is left on the user's file.
    await wait_for(lambda: diagnostics_of(client, app, "conflict-predicted") == [], timeout=10)
    finished: dict[str, Any] = get(events_of(client, run_id, "run_finished")[0], "metadata")
    assert finished["agents"][loser] == "failed" and finished["agents"][other] == "succeeded"

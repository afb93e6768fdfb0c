"""Findings of a run's checks as diagnostics: published while the run is live, cleared when fixed.

The example's frontend calls `mutations.enroll_student`, which the backend does not define; the
`tests` check finds it while other agents still work, and the integrator's transcript fixes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.uris import to_fs_path
from pytest_lsp import LanguageClient

from tests.conftest import SPEC_NAME
from tests.lsp.helpers import events_of, execute, get, wait_for

PAGES = "app/web/pages.py"
CALL = "mutations.enroll_student("


def written_line(workspace: Path) -> int:
    """0-based line of the wrong call in the pages.py the frontend's transcript writes."""
    for raw in (workspace / "transcripts" / "frontend.jsonl").read_text().splitlines():
        step = json.loads(raw)
        if step.get("action") == "write_file" and step.get("path") == PAGES:
            lines = step["content"].splitlines()
            return next(i for i, line in enumerate(lines) if CALL in line)
    raise AssertionError("the frontend's transcript does not write pages.py")


def published_for(client: LanguageClient, path: Path) -> list[types.Diagnostic] | None:
    """The last diagnostics published for ``path`` (None: nothing published for it yet)."""
    for uri, diagnostics in client.diagnostics.items():
        if to_fs_path(uri) == str(path):
            return list(diagnostics)
    return None


def from_check(client: LanguageClient, path: Path, check: str) -> list[types.Diagnostic]:
    return [d for d in published_for(client, path) or [] if d.source == f"counterpoint/{check}"]


async def test_findings_are_published_while_live_and_cleared_when_fixed(
    client: LanguageClient, workspace: Path
) -> None:
    spec = workspace / SPEC_NAME
    # Twice the recorded speed keeps the test short; the order of events is the same.
    spec.write_text(spec.read_text().replace("max_parallel: 4\n", "max_parallel: 4\ndefaults: {speed: 2}\n"))
    pages = (workspace / PAGES).resolve()
    expected_line = written_line(workspace)

    result = await execute(client, Commands.RUN, {"uri": spec.as_uri()})
    run_id = get(result, "runId")
    live_when_seen: list[bool] = []

    def seen() -> bool:
        if from_check(client, pages, "tests"):
            live_when_seen.append(not events_of(client, run_id, "run_finished"))
            return True
        return False

    await wait_for(seen, timeout=60)
    assert live_when_seen == [True], "the finding arrived only after the run had ended"
    (diagnostic,) = from_check(client, pages, "tests")
    assert diagnostic.range.start.line == expected_line
    assert "mutations.enroll" in pages.read_text().splitlines()[expected_line]
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert "enroll_student" in diagnostic.message
    # The check found it before the run's building agents were all done.
    agents_done = {get(e, "actor") for e in events_of(client, run_id, "agent_finished")}
    assert "integrator" not in agents_done

    # The integrator fixes the call, the check reruns and passes: the file's diagnostics are cleared.
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=60)
    (finished,) = events_of(client, run_id, "run_finished")
    assert get(finished, "action") == "succeeded", finished
    await wait_for(lambda: published_for(client, pages) == [], timeout=10)
    assert "mutations.enroll(store" in pages.read_text()
    checks = events_of(client, run_id, "check_finished")
    assert get(checks[-1], "action") == "passed"


LINT = """\
import pathlib, sys
text = pathlib.Path("app/a.py").read_text() if pathlib.Path("app/a.py").exists() else ""
if "{word}" in text:
    print("app/a.py:{line}:1: error: {word} is not allowed")
    sys.exit(1)
"""


def write_checks_spec(workspace: Path, *, emit_done: bool) -> Path:
    """A spec with two checks whose names share a prefix, and an agent that may not emit `done`."""
    (workspace / "lint.py").write_text(LINT.format(word="foo", line=1))
    (workspace / "lint_strict.py").write_text(LINT.format(word="bar", line=2))
    steps = [
        {"action": "write_file", "path": "app/a.py", "content": "foo = 1\nbar = 2\n"},
        {"action": "emit", "signal": "written"},
        {"action": "think", "seconds": 0.5},
        {"action": "emit", "signal": "ready"},
        {"action": "think", "seconds": 0.4},
    ]
    if emit_done:
        steps.append({"action": "emit", "signal": "done"})
    (workspace / "transcripts" / "lazy.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    spec = workspace / "lint.agents.md"
    spec.write_text(
        f"""---
feature: two checks
checks:
  - name: lint-strict
    run: "{sys.executable} lint_strict.py"
    after: [written]
    format: gcc
  - name: lint
    run: "{sys.executable} lint.py"
    after: [ready]
    format: gcc
---
# Two checks

## lazy
emits: written, ready, done
transcript: transcripts/lazy.jsonl
"""
    )
    return spec


async def run_to_end(client: LanguageClient, spec: Path) -> str:
    result = await execute(client, Commands.RUN, {"uri": spec.as_uri()})
    run_id = str(get(result, "runId"))
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=30)
    return run_id


async def test_each_check_and_each_run_replaces_only_its_own_diagnostics(
    client: LanguageClient, workspace: Path
) -> None:
    spec = write_checks_spec(workspace, emit_done=False)
    target = (workspace / "app" / "a.py").resolve()
    run_id = await run_to_end(client, spec)
    assert [get(e, "actor") for e in events_of(client, run_id, "check_finished")] == ["lint-strict", "lint"]
    # `lint` finishing after `lint-strict` must not take away lint-strict's diagnostics.
    await wait_for(lambda: len(published_for(client, target) or []) == 2, timeout=10)
    by_source = {d.source: d.range.start.line for d in published_for(client, target) or []}
    assert by_source == {"counterpoint/lint": 0, "counterpoint/lint-strict": 1}
    # The built-in check: `lazy` never fired `done`, a warning on the spec's emits line.
    await wait_for(lambda: from_check(client, spec.resolve(), "integration"), timeout=10)
    (warning,) = from_check(client, spec.resolve(), "integration")
    assert warning.severity == types.DiagnosticSeverity.Warning
    assert "done" in warning.message

    # The next run fires `done`: the stale warning of the earlier run goes away.
    write_checks_spec(workspace, emit_done=True)
    second = await run_to_end(client, spec)
    assert not [e for e in events_of(client, second, "finding") if get(e, "actor") == "integration"]
    await wait_for(lambda: not from_check(client, spec.resolve(), "integration"), timeout=10)
    assert len(published_for(client, target) or []) == 2

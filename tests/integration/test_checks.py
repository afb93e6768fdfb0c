"""Integration checks in real runs: when they fire, reruns on watched files, findings, consent,
the integrator, and the report's integration section.

Every run is real: specs and transcripts in a temporary folder, checks as subprocesses, the
file watcher on, events read back from the SQLite log. Assertions are on event order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import backend_waits_for_the_first_test_report, copy_example
from tests.integration.helpers import (
    assert_alternate,
    edit,
    emit,
    run_spec,
    think,
    write,
    write_spec,
)

CHECK_SCRIPT = """\
import pathlib, sys, time
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
path = pathlib.Path("app/a.py")
if "bad" in (path.read_text() if path.exists() else ""):
    print("app/a.py:2:5: error: the value is bad  [bad-value]")
    sys.exit(1)
print("all good")
"""


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")


def lint_spec(after: str = "[ready]", watch: str = '["app/**/*.py"]', sleep: float = 0) -> str:
    return f"""---
checks:
  - name: lint
    run: "{{py}} check.py {sleep}"
    after: {after}
    watch: {watch}
    format: gcc
---
# Checks
"""


# -- when checks run ---------------------------------------------------------------------------


@pytest.mark.usefixtures("trusted")
async def test_check_starts_as_soon_as_its_after_signal_fires(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        lint_spec()
        + """
## builder
emits: ready
transcript: transcripts/builder.jsonl

## slow
transcript: transcripts/slow.jsonl
""",
        {"builder": [think(0.05), emit("ready"), think(0.05)], "slow": [think(1.5)]},
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    started = result.position("check_started", "lint")
    assert result.events[started].action == "after: ready"
    assert result.position("signal", action="ready") < started
    # Early: the check ran while the run's last agent was still working.
    last_agent_end = max(i for i, e in enumerate(result.events) if e.type == "agent_finished")
    assert result.events[last_agent_end].actor == "slow"
    assert started < result.position("check_finished", "lint") < last_agent_end
    assert result.of("check_finished", "lint")[0].action == "passed"


@pytest.mark.usefixtures("trusted")
async def test_check_without_after_runs_at_run_start(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        lint_spec(after="[]", watch="[]") + "\n## only\ntranscript: transcripts/only.jsonl\n",
        {"only": [think(0.8)]},
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    started = result.position("check_started", "lint")
    assert result.events[started].action == "after: run started"
    assert started < result.position("agent_finished", "only")
    assert assert_alternate(result, "lint") == 1


# -- reruns on watched changes -------------------------------------------------------------------


@pytest.mark.usefixtures("trusted")
async def test_watched_change_reruns_and_findings_appear_then_clear(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        lint_spec() + "\n## builder\nemits: ready\ntranscript: transcripts/builder.jsonl\n",
        {
            "builder": [
                write("app/a.py", "x = 1\n"),
                emit("ready"),
                think(0.8),
                write("app/a.py", "x = 1\ny = 'bad'\n"),
                think(1.0),
                write("app/a.py", "x = 1\ny = 'good'\n"),
                think(1.0),
            ]
        },
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    finished = result.of("check_finished", "lint")
    assert [e.action for e in finished] == ["passed", "failed", "passed"], [
        (e.action, e.metadata) for e in finished
    ]
    reasons = [e.action for e in result.of("check_started", "lint")]
    assert reasons[0] == "after: ready"
    assert reasons[1:] == ["changed: a.py", "changed: a.py"]
    assert_alternate(result, "lint")

    (finding,) = result.findings("lint")
    assert finding["abs_path"] == str((tmp_path / "app" / "a.py").resolve())
    assert finding["path"] == "app/a.py"
    assert finding["severity"] == "error"
    assert finding["rule"] == "bad-value"
    assert finding["message"] == "the value is bad"
    # 1-based 2:5 in the tool's output -> 0-based line 1, col 4 in the event.
    assert finding["range"]["line"] == 1 and finding["range"]["col"] == 4
    assert finding["range"]["end_line"] == 1
    assert finding["key"] in finished[1].metadata["keys"]
    assert finished[1].metadata["errors"] == 1
    # Fixed: the next run's keys no longer hold it, and the run ends green.
    assert finished[2].metadata["keys"] == []
    assert result.status == "succeeded"
    assert result.report["integration"]["fixed"] == 1


@pytest.mark.usefixtures("trusted")
async def test_write_just_before_the_end_still_reruns_the_check(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        lint_spec() + "\n## builder\nemits: ready\ntranscript: transcripts/builder.jsonl\n",
        {
            "builder": [
                write("app/a.py", "x = 1\n"),
                emit("ready"),
                think(0.5),
                write("app/a.py", "y = 'bad'\n"),
            ]
        },
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    # The builder's last write ends the agents; the check must still see it before the run ends.
    assert [e.action for e in result.of("check_finished", "lint")] == ["passed", "failed"]
    assert result.position("check_finished", "lint", "failed") < result.position("run_finished")
    assert result.status == "failed"


@pytest.mark.usefixtures("trusted")
async def test_burst_of_writes_is_debounced_into_few_runs(tmp_path: Path) -> None:
    burst = []
    for n in range(5):
        burst += [write("app/a.py", f"x = {n}\n"), think(0.02)]
    spec = write_spec(
        tmp_path,
        lint_spec() + "\n## builder\nemits: ready\ntranscript: transcripts/builder.jsonl\n",
        {"builder": [emit("ready"), think(0.6), *burst, think(1.2)]},
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    runs = assert_alternate(result, "lint")
    # The first run, then the five writes as one (at most two if one slipped in between).
    assert 2 <= runs <= 3, runs


@pytest.mark.usefixtures("trusted")
async def test_changes_during_a_slow_check_never_overlap_it(tmp_path: Path) -> None:
    spread = []
    for n in range(5):
        spread += [write("app/a.py", f"x = {n}\n"), think(0.25)]
    spec = write_spec(
        tmp_path,
        lint_spec(sleep=0.6) + "\n## builder\nemits: ready\ntranscript: transcripts/builder.jsonl\n",
        {"builder": [emit("ready"), think(0.1), *spread, think(0.3)]},
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    runs = assert_alternate(result, "lint")
    assert runs >= 2
    # Some writes landed while the check was running...
    spans = []
    for i, event in enumerate(result.events):
        if event.actor == "lint" and event.type == "check_started":
            spans.append([i, len(result.events)])
        elif event.actor == "lint" and event.type == "check_finished":
            spans[-1][1] = i
    writes = [i for i, e in enumerate(result.events) if e.type == "file_written"]
    assert any(start < w < end for w in writes for start, end in spans)
    # ...and the last run started after the last write, so it saw the final content.
    assert spans[-1][0] > writes[-1]


# -- malformed output and consent ----------------------------------------------------------------


@pytest.mark.usefixtures("trusted")
async def test_unreadable_output_becomes_a_finding_on_the_check(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
checks:
  - name: garbage
    run: "{py} garbage.py"
    format: gcc
  - name: nojunit
    run: "{py} -c pass"
    format: junit:.counterpoint/never.xml
---
# Checks

## only
transcript: transcripts/only.jsonl
""",
        {"only": [think(0.3)]},
        {"garbage.py": "import sys\nprint('%%% not what a compiler prints')\nsys.exit(1)\n"},
    )
    result = await run_spec(spec)
    assert result.of("agent_finished", "only")[0].action == "succeeded"
    assert result.status == "failed"  # check errors remain open
    checks = {c.settings.name: c for c in result.spec.checks}
    for name, words in (
        ("garbage", ["exited 1", "not what a compiler prints"]),
        ("nojunit", ["never.xml"]),
    ):
        (finding,) = result.findings(name)
        assert finding["abs_path"] == result.spec.path
        assert finding["range"] == checks[name].range.model_dump()
        assert finding["severity"] == "error"
        for word in words:
            assert word in finding["message"], finding["message"]
        assert result.of("check_finished", name)[-1].action == "failed"


async def test_check_without_consent_does_not_run(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
checks:
  - name: touch
    run: "{py} touch.py"
    format: none
---
# Checks

## only
transcript: transcripts/only.jsonl
""",
        {"only": [think(0.2)]},
        {"touch.py": "import pathlib\npathlib.Path('ran.txt').write_text('ran')\n"},
    )
    result = await run_spec(spec)
    assert not (tmp_path / "ran.txt").exists()
    (finding,) = result.findings("touch")
    assert finding["abs_path"] == result.spec.path
    assert finding["range"] == result.spec.checks[0].range.model_dump()
    assert "consent" in finding["message"]
    assert "--trust" in finding["message"] and "COUNTERPOINT_TRUST=1" in finding["message"]
    assert result.of("check_finished", "touch")[0].metadata["exit_code"] is None


# -- the integrator ------------------------------------------------------------------------------

INTEGRATION_SPEC = """---
checks:
  - name: lint
    run: "{py} check.py"
    after: [ready]
    watch: ["app/**/*.py"]
    format: gcc
---
# Integration

## builder
emits: ready
transcript: transcripts/builder.jsonl

## integrator
integrate: true
"""
BAD_BUILDER = [write("app/a.py", "x = 1\ny = 'bad'\n"), emit("ready"), think(0.6)]


@pytest.mark.usefixtures("trusted")
async def test_command_integrator_gets_the_findings_as_its_task(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        INTEGRATION_SPEC
        + "runner: command\n"
        + 'command: cp "$COUNTERPOINT_TASK_FILE" task_copy.md && printf "y = 1\\n" > app/a.py\n'
        + "- Fix what the checks found\n",
        {"builder": BAD_BUILDER},
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    task = (tmp_path / "task_copy.md").read_text()
    assert "Fix what the checks found" in task
    assert "# Open findings of the integration checks" in task
    assert "app/a.py:2: error: the value is bad" in task
    assert "## Check `lint`" in task
    # The integrator started after the builder, its fix made the rerun pass.
    assert result.position("agent_finished", "builder") < result.position("agent_started", "integrator")
    finished = result.of("check_finished", "lint")
    assert finished[0].action == "failed" and finished[-1].action == "passed"
    assert result.of("check_started", "lint")[-1].action == "after integrator round 1"
    assert result.status == "succeeded"


@pytest.mark.usefixtures("trusted")
async def test_replay_integrator_fixes_the_finding_and_the_run_succeeds(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        INTEGRATION_SPEC + "transcript: transcripts/integrator.jsonl\n",
        {
            "builder": BAD_BUILDER,
            "integrator": [think(0.05), edit("app/a.py", "y = 'bad'", "y = 'fine'")],
        },
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    assert (tmp_path / "app" / "a.py").read_text() == "x = 1\ny = 'fine'\n"
    assert result.of("agent_finished", "integrator")[0].action == "succeeded"
    finished = result.of("check_finished", "lint")
    assert finished[-1].action == "passed" and finished[-1].metadata["keys"] == []
    assert result.status == "succeeded"
    integration = result.report["integration"]
    assert (integration["found"], integration["fixed"], integration["open"]) == (1, 1, 0)
    # The integrator editing the builder's file is its job, not a shared-file issue.
    assert not result.findings("integration")


@pytest.mark.usefixtures("trusted")
async def test_integrator_gives_up_after_its_rounds(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        INTEGRATION_SPEC + "rounds: 2\ntranscript: transcripts/integrator.jsonl\n",
        {
            "builder": BAD_BUILDER,
            "integrator": [write("app/b.py", "# an attempt that does not help\n")],
        },
        {"check.py": CHECK_SCRIPT},
    )
    result = await run_spec(spec)
    (end,) = result.of("agent_finished", "integrator")
    assert end.action == "failed"
    assert "checks still fail after 2 round(s)" in end.metadata["error"]
    assert "the value is bad" in end.metadata["error"]
    reasons = [e.action for e in result.of("check_started", "lint")]
    assert "after integrator round 1" in reasons and "after integrator round 2" in reasons
    rounds = [e for e in result.of("agent_output", "integrator") if e.action == "round"]
    assert [e.metadata["round"] for e in rounds] == [1, 2]
    assert result.status == "failed"


@pytest.mark.usefixtures("trusted")
async def test_integrator_without_checks_just_runs_its_task(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """---
feature: no checks
---
# No checks

## builder
transcript: transcripts/builder.jsonl

## integrator
integrate: true
runner: command
command: cp "$COUNTERPOINT_TASK_FILE" task_copy.md
- Tidy up after the others
""",
        {"builder": [think(0.2)]},
    )
    result = await run_spec(spec)
    assert result.status == "succeeded"
    task = (tmp_path / "task_copy.md").read_text()
    assert "Tidy up after the others" in task
    assert "Open findings" not in task
    assert result.position("agent_finished", "builder") < result.position("agent_started", "integrator")
    assert not result.of("check_started")


# -- the example's report ------------------------------------------------------------------------


@pytest.mark.usefixtures("trusted")
async def test_example_reports_the_issue_found_early_and_fixed(tmp_path: Path) -> None:
    spec = copy_example(tmp_path / "course-enrollment")
    backend_waits_for_the_first_test_report(spec)
    result = await run_spec(spec, speed=2.0)
    assert result.status == "succeeded", result.report["agents"]
    integration = result.report["integration"]
    assert integration["found"] >= 1
    assert integration["early"] == integration["found"]
    assert integration["fixed"] == integration["found"]
    assert integration["open"] == 0
    issue = next(i for i in integration["issues"] if i["path"] == "app/web/pages.py")
    assert issue["check"] == "tests" and "enroll_student" in issue["message"]
    assert issue["found_at_s"] < integration["builders_finished_at_s"] < issue["fixed_at_s"]
    assert "1 early" in Path(result.report["files"]["md"]).read_text()

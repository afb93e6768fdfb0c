"""Tests of the spec validator: every finding, with its exact range and code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from counterpoint.engine.spec.parser import parse_spec
from counterpoint.engine.spec.validate import (
    agent_dependencies,
    format_cli,
    glob_problem,
    load_spec,
    validate_spec,
)
from counterpoint_protocol.spec import Severity, SourceRange, Spec, SpecDiagnostic

ISSUE_EXAMPLE = """\
---
feature: Course enrollment
context: [AGENTS.md, docs/ontology.md]     # shared context, loaded once for every agent
max_parallel: 4                              # elastic cap; default: number of agents
signals:                                     # file events that fire signals
  schema_ready: "app/schema.py"
  mutations_ready: "app/mutations/*.py"
---
# Course enrollment

## backend
runner: replay
transcript: transcripts/backend.jsonl
emits: schema_ready, mutations_ready
- Schema for Course and Enrollment
- Mutations: enroll, unenroll, update_progress

## frontend
needs: schema_ready
runner: command
command: ./agents/frontend.sh
timeout: 10m
- Course listing page, enrollment form

## docs
needs: backend          # an agent's name: wait until that agent has finished
- API documentation
"""

CMD = "runner: command\ncommand: true\n"


def r(line: int, col: int, end_col: int) -> SourceRange:
    return SourceRange.on_line(line, col, end_col)


def load(text: str, folder: Path | None = None) -> Spec:
    if folder is None:
        return load_spec(text, Path("/nowhere/x.agents.md"), check_files=False)
    return load_spec(text, folder / "x.agents.md")


def found(spec: Spec, code: str) -> list[SpecDiagnostic]:
    return [d for d in spec.diagnostics if d.code == code]


def only(spec: Spec, code: str) -> SpecDiagnostic:
    diags = found(spec, code)
    assert len(diags) == 1, spec.diagnostics
    return diags[0]


@pytest.fixture
def example_folder(tmp_path: Path) -> Path:
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "transcripts" / "backend.jsonl").write_text("")
    (tmp_path / "transcripts" / "docs.jsonl").write_text("")
    (tmp_path / "agents").mkdir()
    script = tmp_path / "agents" / "frontend.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return tmp_path


def test_issue_example_is_clean_once_docs_has_a_transcript(example_folder: Path) -> None:
    text = ISSUE_EXAMPLE.replace("needs: backend ", "transcript: transcripts/docs.jsonl\nneeds: backend ")
    spec = load(text, example_folder)
    assert [(d.code, d.severity) for d in spec.diagnostics] == [("unused-signal", Severity.HINT)]
    assert spec.diagnostics[0].range == r(13, 21, 36)  # mutations_ready: nobody needs it


def test_issue_example_docs_agent_without_transcript(example_folder: Path) -> None:
    spec = load(ISSUE_EXAMPLE, example_folder)
    diag = only(spec, "missing-transcript")
    assert diag.range == r(24, 0, 7)
    assert "replay" in diag.message


def test_unknown_keys_with_did_you_mean() -> None:
    text = (
        "---\nfeture: x\nmax_paralel: 2\nrunner: command\ncommand: 'true'\ndefaults:\n"
        "  retires: 2\nchecks:\n  - name: t\n    run: x\n    aftr: [a]\n---\n"
        "## a\nruner: command\nGoal: the task\n"
    )
    spec = load(text)
    diags = found(spec, "unknown-key")
    assert [(d.range, d.message) for d in diags] == [
        (r(1, 0, 6), "unknown front matter key 'feture' (did you mean 'feature'?)"),
        (r(2, 0, 11), "unknown front matter key 'max_paralel' (did you mean 'max_parallel'?)"),
        (r(6, 2, 9), "unknown agent setting 'retires' under 'defaults' (did you mean 'retries'?)"),
        (r(10, 4, 8), "unknown check setting 'aftr' (did you mean 'after'?)"),
        (r(13, 0, 5), "unknown agent setting 'runer' (did you mean 'runner'?)"),
        (
            r(14, 0, 4),
            "unknown agent setting 'Goal'; a task line that looks like 'key: value' "
            "must follow a line of task text",
        ),
    ]
    assert all(d.severity == Severity.ERROR for d in diags)


def test_unknown_signal_on_the_needs_item() -> None:
    text = f"## backend\n{CMD}emits: schema_ready\n## web\n{CMD}needs: backend, schema_redy\n"
    spec = load(text)
    diag = only(spec, "unknown-signal")
    assert diag.range == r(7, 16, 27)
    assert "did you mean 'schema_ready'?" in diag.message


def test_needs_satisfied_by_glob_emitter_or_agent_name() -> None:
    text = f"---\nsignals:\n  ready: 'a.txt'\n---\n## a\n{CMD}emits: done\n## b\n{CMD}needs: ready, done, a\n"
    assert load(text).diagnostics == []


def test_dependency_cycle_on_each_needs_item() -> None:
    text = f"## a\n{CMD}needs: c\nemits: sa\n## b\n{CMD}needs: sa\n## c\n{CMD}needs: b\n"
    spec = load(text)
    assert [(d.range, d.message) for d in found(spec, "dependency-cycle")] == [
        (r(3, 7, 8), "dependency cycle: a -> c -> b -> a"),
        (r(8, 7, 9), "dependency cycle: b -> a -> c -> b"),
        (r(12, 7, 8), "dependency cycle: c -> b -> a -> c"),
    ]


def test_signal_with_glob_breaks_the_cycle() -> None:
    text = f"---\nsignals:\n  sa: 'out/*.txt'\n---\n## a\n{CMD}needs: b\nemits: sa\n## b\n{CMD}needs: sa\n"
    spec = load(text)
    assert found(spec, "dependency-cycle") == []
    assert agent_dependencies(spec) == {"a": {"b"}, "b": set()}


def test_self_dependency_by_name_and_by_signal() -> None:
    text = f"## a\n{CMD}needs: a\n## b\n{CMD}needs: s\nemits: s\n"
    spec = load(text)
    diags = found(spec, "self-dependency")
    assert [d.range for d in diags] == [r(3, 7, 8), r(7, 7, 8)]
    assert diags[0].message == "agent 'a' needs itself"
    assert "b -> b" in diags[1].message


def test_agent_dependencies() -> None:
    text = "## a\nemits: s, t\n## b\nemits: s\n## c\nneeds: s, a, nothing\n## d\nneeds: t, c\n"
    spec = parse_spec(text, Path("/x.agents.md"))
    assert agent_dependencies(spec) == {"a": set(), "b": set(), "c": {"a", "b"}, "d": {"a", "c"}}


def test_duplicate_agent_on_second_heading() -> None:
    spec = load(f"## a\n{CMD}## b\n{CMD}## a\n{CMD}")
    diag = only(spec, "duplicate-agent")
    assert diag.range == r(6, 0, 4)
    assert "first defined on line 1" in diag.message


def test_unknown_runner_does_not_also_ask_for_a_transcript() -> None:
    spec = load("## a\nrunner: lmm\n")
    assert [d.code for d in spec.diagnostics] == ["unknown-runner"]
    assert spec.diagnostics[0].range == r(1, 8, 11)
    assert "did you mean 'llm'?" in spec.diagnostics[0].message


def test_runner_requirements_on_the_heading() -> None:
    text = "## a\n## b\nrunner: command\n## c\nrunner: acp\n## d\nrunner: command\npreset: aidr\n"
    spec = load(text)
    assert [(d.code, d.range) for d in spec.diagnostics] == [
        ("missing-transcript", r(0, 0, 4)),
        ("missing-command", r(1, 0, 4)),
        ("missing-command", r(3, 0, 4)),
        ("unknown-preset", r(7, 8, 12)),
    ]
    assert "did you mean 'aider'?" in spec.diagnostics[-1].message


def test_missing_files(tmp_path: Path) -> None:
    (tmp_path / "there.jsonl").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.sh").write_text("")
    os.chmod(tmp_path / "sub" / "run.sh", 0o755)
    text = (
        "## a\ntranscript: gone.jsonl\n"
        "## b\ntranscript: there.jsonl\n"
        "## c\nrunner: command\ncommand: FOO=1 ./agents/x.sh --fast\n"
        "## d\nrunner: command\ncommand: sub/run.sh\n"
        "## e\nrunner: command\ncommand: no-such-program-counterpoint -v\n"
        "## f\nrunner: command\ncommand: python -c pass\n"
        "## g\nrunner: command\ncommand: echo 'unclosed\n"
    )
    spec = load(text, tmp_path)
    assert [(d.code, d.severity, d.range) for d in spec.diagnostics] == [
        ("transcript-not-found", Severity.ERROR, r(1, 12, 22)),
        ("command-not-found", Severity.ERROR, r(6, 15, 28)),
        ("program-not-found", Severity.WARNING, r(12, 9, 37)),
        ("invalid-command", Severity.ERROR, r(18, 9, 23)),
    ]
    assert load(text).diagnostics == []  # check_files=False


def test_command_relative_to_cwd_and_not_executable(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "go.sh").write_text("")
    text = "## a\nrunner: command\ncwd: tools\ncommand: ./go.sh\n"
    diag = only(load(text, tmp_path), "command-not-found")
    assert diag.severity == Severity.WARNING
    assert diag.range == r(3, 9, 16)


@pytest.mark.parametrize(
    ("glob", "problem"),
    [
        ("src/[ab.py", "unbalanced '['"),
        ("/etc/*.conf", "absolute path"),
        ("C:\\x\\*.py", "absolute path"),
        ("../outside/*.py", "leaves the spec's folder"),
        ("a/../../b", "leaves the spec's folder"),
        ("", "empty glob"),
    ],
)
def test_glob_problems(glob: str, problem: str) -> None:
    message = glob_problem(glob)
    assert message is not None
    assert problem in message


@pytest.mark.parametrize("glob", ["app/*.py", "a/../b/**/x", "[]]x", "[!a]b", "./x/[0-9].txt"])
def test_good_globs(glob: str) -> None:
    assert glob_problem(glob) is None


def test_bad_globs_in_signals_and_checks() -> None:
    text = (
        "---\nsignals:\n  s: ['ok/*.py', '../x']\n  t: /abs\n"
        "checks:\n  - name: c\n    run: pytest\n    watch: 'src/[x'\n---\n"
        f"## a\n{CMD}needs: s, t\n"
    )
    spec = load(text)
    assert [d.range for d in found(spec, "bad-glob")] == [r(2, 17, 23), r(3, 5, 9), r(7, 11, 19)]


def test_checks_after_unknown_signal_and_duplicate_check() -> None:
    text = (
        "---\nchecks:\n  - name: c\n    run: x\n    after: [done, dnoe]\n"
        "  - name: c\n    run: y\n---\n"
        f"## a\n{CMD}emits: done\n"
    )
    spec = load(text)
    diag = only(spec, "unknown-signal")
    assert diag.range == r(4, 18, 22)
    assert "did you mean 'done'?" in diag.message
    assert only(spec, "duplicate-check").range == r(5, 4, 11)
    assert found(spec, "unused-signal") == []  # the check runs after it


def test_multiple_integrators() -> None:
    spec = load(f"## a\n{CMD}integrate: true\n## b\n{CMD}integrate: yes\n")
    diag = only(spec, "multiple-integrators")
    assert diag.severity == Severity.WARNING
    assert diag.range == r(7, 11, 14)


def test_unused_signal_hint() -> None:
    spec = load(f"## a\n{CMD}emits: used, unused\n## b\n{CMD}needs: used\n")
    diag = only(spec, "unused-signal")
    assert (diag.severity, diag.range) == (Severity.HINT, r(3, 13, 19))


def test_no_agents_warning_on_line_zero() -> None:
    for text in ("", "# Title only\n", "---\nfeature: x\n---\n"):
        spec = load(text)
        diag = only(spec, "no-agents")
        assert diag.severity == Severity.WARNING
        assert diag.range.line == 0


def test_signal_shadowing_an_agent_and_bad_agent_name() -> None:
    text = f"---\nsignals:\n  a: 'x'\n---\n## a\n{CMD}## x, y\n{CMD}## two words\n{CMD}"
    spec = load(text)
    assert only(spec, "signal-shadows-agent").range == r(2, 2, 3)
    bad = found(spec, "invalid-agent-name")
    assert [(d.range, d.severity) for d in bad] == [
        (r(7, 3, 7), Severity.ERROR),
        (r(10, 3, 12), Severity.ERROR),
    ]
    assert "'x, y' is not a valid name" in bad[0].message


def test_load_spec_sorts_parse_and_validation_findings() -> None:
    text = "## a\nruner: x\nretries: many\n"
    spec = load(text)
    assert [d.code for d in spec.diagnostics] == [
        "missing-transcript",
        "unknown-key",
        "invalid-value",
    ]
    assert validate_spec(spec, check_files=False)[0].code == "missing-transcript"


def test_format_cli() -> None:
    diag = SpecDiagnostic(range=r(2, 4, 9), severity=Severity.ERROR, message="boom", code="unknown-key")
    assert format_cli(diag, "x.agents.md") == "x.agents.md:3:5: error: boom [unknown-key]"
    hint = diag.model_copy(update={"severity": Severity.HINT})
    assert format_cli(hint, "p").startswith("p:3:5: note: boom")
    warning = diag.model_copy(update={"severity": Severity.WARNING})
    assert format_cli(warning, "p") == "p:3:5: warning: boom [unknown-key]"


def test_a_half_typed_heading_that_needs_an_agent_gives_diagnostics(tmp_path: Path) -> None:
    spec = load_spec("##\nneeds: b\ntask\n\n## b\ntask\n", tmp_path / "x.agents.md", check_files=False)
    assert spec.diagnostics

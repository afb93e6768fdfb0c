"""Tests of the spec parser: agents, settings, tasks, front matter and exact ranges."""

from __future__ import annotations

from pathlib import Path

import pytest
from counterpoint.engine.spec.parser import parse_duration, parse_spec, split_lines
from counterpoint_protocol.spec import SourceRange, Spec, SpecDiagnostic

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

SPEC_PATH = Path("/project/course.agents.md")


def parse(text: str) -> Spec:
    return parse_spec(text, SPEC_PATH)


def r(line: int, col: int, end_col: int) -> SourceRange:
    return SourceRange.on_line(line, col, end_col)


def codes(spec: Spec) -> list[tuple[str, SourceRange]]:
    return [(d.code, d.range) for d in spec.diagnostics]


def only(spec: Spec, code: str) -> SpecDiagnostic:
    found = [d for d in spec.diagnostics if d.code == code]
    assert len(found) == 1, spec.diagnostics
    return found[0]


def test_issue_example_front_matter() -> None:
    spec = parse(ISSUE_EXAMPLE)
    assert spec.diagnostics == []
    assert spec.path == "/project/course.agents.md"
    assert spec.feature == "Course enrollment"
    assert spec.context == ["AGENTS.md", "docs/ontology.md"]
    assert spec.max_parallel == 4
    assert spec.signals == {
        "schema_ready": ["app/schema.py"],
        "mutations_ready": ["app/mutations/*.py"],
    }
    assert spec.signal_ranges["schema_ready"] == r(5, 2, 14)
    assert spec.signal_glob_ranges["mutations_ready"] == {"app/mutations/*.py": r(6, 19, 39)}
    assert spec.key_ranges["max_parallel"] == r(3, 0, 12)
    assert spec.front_matter_range == SourceRange(line=0, col=0, end_line=7, end_col=3)
    assert spec.title_range == r(8, 0, 19)


def test_issue_example_agents() -> None:
    spec = parse(ISSUE_EXAMPLE)
    assert [a.name for a in spec.agents] == ["backend", "frontend", "docs"]
    backend, frontend, docs = spec.agents

    assert backend.settings.runner == "replay"
    assert backend.settings.transcript == "transcripts/backend.jsonl"
    assert backend.settings.emits == ["schema_ready", "mutations_ready"]
    assert backend.task == (
        "- Schema for Course and Enrollment\n- Mutations: enroll, unenroll, update_progress"
    )
    assert backend.heading_range == r(10, 0, 10)
    assert backend.name_range == r(10, 3, 10)
    assert backend.section_end_line == 16
    assert backend.setting_ranges["runner"] == r(11, 0, 14)
    assert backend.value_ranges["transcript"] == r(12, 12, 37)
    assert backend.item_ranges["emits"] == {
        "schema_ready": r(13, 7, 19),
        "mutations_ready": r(13, 21, 36),
    }

    assert frontend.settings.runner == "command"
    assert frontend.settings.needs == ["schema_ready"]
    assert frontend.settings.command == "./agents/frontend.sh"
    assert frontend.settings.timeout == 600
    assert frontend.task == "- Course listing page, enrollment form"
    assert frontend.item_ranges["needs"] == {"schema_ready": r(18, 7, 19)}

    assert docs.settings.needs == ["backend"]
    assert docs.item_ranges["needs"] == {"backend": r(25, 7, 14)}
    # the comment is not part of the value
    assert docs.setting_ranges["needs"] == r(25, 0, 14)
    assert docs.task == "- API documentation"
    assert docs.section_end_line == 27  # the last (empty) line after the final newline


def test_empty_file() -> None:
    spec = parse("")
    assert spec.agents == []
    assert spec.diagnostics == []
    assert spec.front_matter_range is None
    assert spec.title_range is None


def test_no_front_matter() -> None:
    spec = parse("# Plan\n\nSome intro.\n\n## solo\ntranscript: t.jsonl\nDo it.\n")
    assert spec.front_matter_range is None
    assert spec.title_range == r(0, 0, 6)
    (agent,) = spec.agents
    assert agent.settings.transcript == "t.jsonl"
    assert agent.task == "Do it."


def test_crlf_line_endings() -> None:
    spec = parse(ISSUE_EXAMPLE.replace("\n", "\r\n"))
    assert spec.diagnostics == []
    backend = spec.agents[0]
    assert backend.item_ranges["emits"]["mutations_ready"] == r(13, 21, 36)
    assert backend.task == (
        "- Schema for Course and Enrollment\n- Mutations: enroll, unenroll, update_progress"
    )
    assert spec.signal_glob_ranges["schema_ready"] == {"app/schema.py": r(5, 16, 31)}


def test_unicode_heading_columns_are_code_points() -> None:
    spec = parse("---\nfeature: 🎉 fête\n---\n## 𝄞gent-é\nemits: dønë, 🎉x\n")
    (agent,) = spec.agents
    assert agent.name == "𝄞gent-é"
    assert agent.name_range == r(3, 3, 10)
    assert agent.item_ranges["emits"] == {"dønë": r(4, 7, 11), "🎉x": r(4, 13, 15)}
    assert spec.feature == "🎉 fête"


def test_split_lines_matches_lsp() -> None:
    assert split_lines("a\r\nb\rc\nd\u2028e") == ["a", "b", "c", "d\u2028e"]
    assert split_lines("") == [""]


def test_settings_block_ends_at_first_task_line() -> None:
    text = "## a\n\nruntime: x\nrunner: replay\n\nWrite it.\nneeds: b\n"
    (agent,) = parse(text).agents
    assert set(agent.setting_ranges) == {"runtime", "runner"}
    assert agent.settings.needs == []
    assert agent.task == "Write it.\nneeds: b"


def test_heading_variants_and_code_fences() -> None:
    text = "## one ##\n```\n## not-an-agent\n```\n### sub\n##nospace\n  ## two\n##\n"
    spec = parse(text)
    assert [a.name for a in spec.agents] == ["one", "two", ""]
    assert spec.agents[0].name_range == r(0, 3, 6)
    assert "## not-an-agent" in spec.agents[0].task
    assert spec.agents[1].heading_range == r(6, 2, 8)
    assert codes(spec) == [("empty-agent-name", r(7, 0, 2))]


def test_list_settings_flow_and_quotes() -> None:
    (agent,) = parse('## a\nneeds: [x, "y z", ,x]\nemits:\n').agents
    assert agent.settings.needs == ["x", "y z"]
    assert agent.item_ranges["needs"] == {"x": r(1, 8, 9), "y z": r(1, 11, 16)}
    assert agent.settings.emits == []


def test_unclosed_flow_list() -> None:
    spec = parse("## a\nneeds: [x, y\n")
    assert codes(spec) == [("invalid-value", r(1, 7, 12))]
    assert spec.agents[0].settings.needs == []


def test_comments_and_quoted_hashes() -> None:
    text = "## a\ncommand: echo 'a # b' \"#c\" # run it\nmodel: x#y  # hash inside a word\n"
    (agent,) = parse(text).agents
    assert agent.settings.command == "echo 'a # b' \"#c\""
    assert agent.settings.model == "x#y"
    assert agent.value_ranges["model"] == r(2, 7, 10)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        (90, 90.0),
        ("1.5", 1.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2m 5s", 125.0),
        ("250ms", 0.25),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10x", "m", "", "1m1h1m", "0", "-5", "1h1h", True, "inf"])
def test_bad_durations(text: str | bool) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_typed_settings() -> None:
    text = (
        "## a\nruntime: 1\nintegrate: yes\nretries: 3\nspeed: 2.5\ntimeout: 1h30m\n"
        "env: {A: 1, B: 'x y', C: true}\ngate: approve\n"
    )
    (agent,) = parse(text).agents
    s = agent.settings
    assert (s.integrate, s.retries, s.speed, s.timeout) == (True, 3, 2.5, 5400.0)
    assert s.env == {"A": "1", "B": "x y", "C": "true"}
    assert s.gate == "approve"


def test_bad_values_are_reported_and_defaults_used() -> None:
    text = "## a\nretries: 11\nintegrate: maybe\ntimeout: soon\nenv: A=1\nrounds:\n"
    spec = parse(text)
    assert codes(spec) == [
        ("invalid-value", r(1, 9, 11)),
        ("invalid-value", r(2, 11, 16)),
        ("invalid-value", r(3, 9, 13)),
        ("invalid-value", r(4, 5, 8)),
        ("invalid-value", r(5, 0, 7)),
    ]
    assert "less than or equal to 10" in spec.diagnostics[0].message
    assert spec.agents[0].settings.retries == 0
    assert spec.agents[0].settings.rounds == 1


def test_unknown_runner_in_section() -> None:
    spec = parse("## a\nrunner: comand\n")
    diag = only(spec, "unknown-runner")
    assert diag.range == r(1, 8, 14)
    assert "did you mean 'command'?" in diag.message


def test_duplicate_setting_line() -> None:
    spec = parse("## a\nmodel: x\nmodel: y\n")
    assert codes(spec) == [("duplicate-key", r(2, 0, 5))]
    assert spec.agents[0].settings.model == "y"


def test_front_matter_defaults_apply_to_every_agent() -> None:
    text = (
        "---\nrunner: command\ntimeout: 30s\ndefaults:\n  retries: 2\n  env: {X: '1'}\n---\n"
        "## a\ncommand: ./a.sh\n## b\nrunner: replay\nretries: 0\n"
    )
    spec = parse(text)
    assert spec.diagnostics == []
    a, b = spec.agents
    assert (a.settings.runner, a.settings.timeout, a.settings.retries) == ("command", 30, 2)
    assert a.settings.env == {"X": "1"}
    assert (b.settings.runner, b.settings.retries) == ("replay", 0)
    assert spec.key_ranges["defaults.retries"] == r(4, 2, 9)


def test_bad_defaults() -> None:
    text = "---\nrunner: replai\ndefaults:\n  retries: -1\n  needs: [a, [b]]\n---\n## a\n"
    spec = parse(text)
    assert codes(spec) == [
        ("unknown-runner", r(1, 8, 14)),
        ("invalid-value", r(3, 11, 13)),
        ("invalid-value", SourceRange(line=4, col=9, end_line=4, end_col=17)),
    ]
    assert spec.agents[0].settings.runner == "replay"


def test_yaml_error_position() -> None:
    spec = parse("---\nfeature: x\nsignals:\n  a: [b\n---\n## a\n")
    diag = only(spec, "yaml-error")
    assert diag.range.line == 4
    assert diag.message.startswith("invalid YAML")
    assert [a.name for a in spec.agents] == ["a"]


def test_yaml_bad_indentation() -> None:
    spec = parse("---\nfeature: x\n  max_parallel: 2\n---\n")
    assert only(spec, "yaml-error").range == r(2, 14, 15)


def test_yaml_unprintable_character() -> None:
    spec = parse("---\nfeature: a\x07b\n---\n")
    assert only(spec, "yaml-error").range == r(1, 10, 11)


def test_front_matter_not_a_mapping() -> None:
    spec = parse("---\n- a\n- b\n---\n")
    assert only(spec, "front-matter-not-mapping").range.line == 1


def test_unclosed_front_matter() -> None:
    spec = parse("---\nfeature: x\n## a\n")
    assert codes(spec) == [("front-matter-unclosed", r(0, 0, 3))]
    assert [a.name for a in spec.agents] == ["a"]


def test_duplicate_front_matter_key() -> None:
    spec = parse("---\nfeature: x\nfeature: y\n---\n")
    assert codes(spec) == [("duplicate-key", r(2, 0, 7))]
    assert spec.feature == "y"


def test_front_matter_value_errors() -> None:
    text = "---\nmax_parallel: 0\nsignals:\n  a: {x: 1}\n  b:\n  c: [x, 'y']\n---\n"
    spec = parse(text)
    assert codes(spec) == [
        ("invalid-value", r(1, 14, 15)),
        ("invalid-value", r(3, 5, 11)),
        ("invalid-value", r(4, 2, 3)),
    ]
    assert spec.max_parallel is None
    assert spec.signals == {"c": ["x", "y"]}
    assert spec.signal_glob_ranges["c"] == {"x": r(5, 6, 7), "y": r(5, 9, 12)}


def test_checks() -> None:
    text = (
        "---\nchecks:\n  - name: tests\n    run: pytest -q\n    after: a, b\n"
        "    watch: ['src/**/*.py']\n    timeout: 2m\n  - run: ruff\n  - nope\n---\n"
    )
    spec = parse(text)
    (check,) = spec.checks
    assert check.settings.name == "tests"
    assert check.settings.after == ["a", "b"]
    assert check.settings.timeout == 120
    assert check.range == r(2, 4, 15)
    assert check.item_ranges["after"] == {"a": r(4, 11, 12), "b": r(4, 14, 15)}
    assert check.item_ranges["watch"] == {"src/**/*.py": r(5, 12, 25)}
    assert codes(spec) == [("invalid-check", r(7, 4, 13)), ("invalid-value", r(8, 4, 8))]
    assert "needs name" in spec.diagnostics[0].message


def test_bom_before_front_matter() -> None:
    spec = parse("\ufeff---\nfeature: x\n---\n## a\n")
    assert spec.feature == "x"
    assert spec.agents[0].heading_range == r(3, 0, 4)


def test_unknown_keys_are_recorded_for_the_validator() -> None:
    spec = parse("---\nfeture: x\n---\n## a\nruner: command\n")
    assert spec.key_ranges["feture"] == r(1, 0, 6)
    assert spec.agents[0].setting_ranges["runer"] == r(4, 0, 14)
    assert spec.diagnostics == []

"""Property tests: `load_spec` never raises and every range lies inside the document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from counterpoint.engine.spec import load_spec
from counterpoint.engine.spec.parser import split_lines
from counterpoint_protocol.spec import SourceRange, Spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALID_SPEC = """\
---
feature: Course enrollment
context: [AGENTS.md, docs/ontology.md]   # shared
max_parallel: 4
runner: replay
defaults:
  retries: 1
  env: {A: "1"}
signals:
  schema_ready: "app/schema.py"
  mutations_ready: ["app/mutations/*.py", "app/m2/[ab].py"]
checks:
  - name: tests
    run: pytest -q
    after: schema_ready, backend
    watch: ["app/**/*.py"]
    timeout: 2m
---
# Course enrollment

## backend
runner: replay
transcript: transcripts/backend.jsonl
emits: schema_ready, mutations_ready
- Schema for Course and Enrollment

## frontend.v2
needs: [schema_ready]
runner: command
command: FOO=1 ./agents/frontend.sh "a # b"   # comment
timeout: 1h30m
env: {KEY: value}
```
## not a heading
```
- Course listing page ✨ (names are ASCII; task text may be any Unicode)

## docs
transcript: transcripts/docs.jsonl
needs: backend, frontend.v2, mutations_ready
integrate: yes
- API documentation
"""

FRAGMENTS = [
    "---",
    "...",
    "## a",
    "## b ##",
    "##",
    "# Title",
    "```",
    "~~~",
    "needs: a, b",
    "needs: [a",
    "emits: s, t",
    "runner: comand",
    "runner: command",
    "command: ./x.sh",
    "timeout: 1h30m",
    "timeout: x",
    "env: {A: 1",
    "retries: 99",
    "signals:",
    "  s: '[x'",
    "  t: [a, b]",
    "checks:",
    "  - name: c",
    "    after: s, u",
    "defaults:",
    "  runner: replay",
    "key: 'unclosed",
    "feature: &a x",
    "other: *a",
    "\t- tab",
    "ü 🎉 𝄞",
    "\ufeff---",
    "\x00\x07\x85\u2028\u2029",
]
LINE_BREAKS = ["\n", "\r\n", "\r"]
SPEC_PATH = Path("/nonexistent-counterpoint/x.agents.md")


def all_ranges(spec: Spec) -> Iterator[SourceRange]:
    yield from (d.range for d in spec.diagnostics)
    yield from spec.key_ranges.values()
    yield from spec.signal_ranges.values()
    for globs in spec.signal_glob_ranges.values():
        yield from globs.values()
    for check in spec.checks:
        yield check.range
        for items in check.item_ranges.values():
            yield from items.values()
    for rng in (spec.front_matter_range, spec.title_range):
        if rng is not None:
            yield rng
    for agent in spec.agents:
        yield agent.heading_range
        yield agent.name_range
        yield from agent.setting_ranges.values()
        yield from agent.value_ranges.values()
        for items in agent.item_ranges.values():
            yield from items.values()


def assert_ranges_inside(text: str, check_files: bool = False) -> None:
    spec = load_spec(text, SPEC_PATH, check_files=check_files)
    lines = split_lines(text)
    for rng in all_ranges(spec):
        assert 0 <= rng.line < len(lines), (rng, text)
        assert 0 <= rng.end_line < len(lines), (rng, text)
        assert 0 <= rng.col <= len(lines[rng.line]), (rng, text)
        assert 0 <= rng.end_col <= len(lines[rng.end_line]), (rng, text)
        assert (rng.line, rng.col) <= (rng.end_line, rng.end_col), (rng, text)
    for agent in spec.agents:
        assert agent.heading_range.line <= agent.section_end_line < len(lines)


BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(st.text())
def test_any_text(text: str) -> None:
    assert_ranges_inside(text)


@BOUNDED
@given(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=30),
    st.lists(st.sampled_from(LINE_BREAKS), min_size=1, max_size=3),
    st.booleans(),
)
def test_spec_like_lines(lines: list[str], breaks: list[str], check_files: bool) -> None:
    text = "".join(line + breaks[i % len(breaks)] for i, line in enumerate(lines))
    assert_ranges_inside(text, check_files)


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    text = VALID_SPEC
    if draw(st.booleans()):
        text = text.replace("\n", draw(st.sampled_from(LINE_BREAKS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "fragment"]))
        if action == "insert":
            text = text[:pos] + draw(st.text(max_size=8)) + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
        else:
            text = text[:pos] + draw(st.sampled_from(FRAGMENTS)) + "\n" + text[pos:]
    return text


def test_valid_spec_is_valid_apart_from_files() -> None:
    spec = load_spec(VALID_SPEC, SPEC_PATH, check_files=False)
    assert [d.code for d in spec.diagnostics] == []
    assert [a.name for a in spec.agents] == ["backend", "frontend.v2", "docs"]


@BOUNDED
@given(mutated_spec(), st.booleans())
def test_mutated_valid_spec(text: str, check_files: bool) -> None:
    assert_ranges_inside(text, check_files)

"""The front matter's YAML is composed by libyaml (``yaml.CSafeLoader``) when PyYAML has it,
and by PyYAML's pure-Python loader otherwise or when libyaml refuses the text: the two give
the same parsed spec, every value, range and diagnostic, on generated and mutated front
matters and on the specs of the other tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from counterpoint.engine.spec import front_matter as spec_front_matter
from counterpoint.engine.spec.parser import parse_spec
from counterpoint_protocol.spec import Spec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.unit.test_spec_properties import FRAGMENTS, VALID_SPEC, mutated_spec

PATH = Path("/nonexistent-counterpoint/x.agents.md")
MANY = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

YAML_PIECES = [
    "feature: x",
    "feature: 'a # b'",
    'feature: "q\\n\\t\\u00e9"',
    "feature: |\n  two\n  lines",
    "feature: >-\n  folded\n  text",
    "feature: plain\n  continued",
    "context: [a.md, 'b c.md',  d ]",
    "context: a.md, b.md",
    "context:\n  - a.md\n  -  b.md  # note",
    "max_parallel: 4",
    "max_parallel: 0x1f",
    "max_parallel: 1_000",
    "budget_usd: 1.5e3",
    "budget_usd: .inf",
    "runner: replay",
    "runner: comand",
    "timeout: 1h30m",
    "retries: ~",
    "env: {A: 1, B: yes, C: null}",
    "defaults:\n  runner: command\n  needs: a, b\n  env: {K: v}",
    "defaults: {retries: 2, integrate: on}",
    "signals:\n  s: 'src/**'\n  t: [a/*.py, 'b/[ab].py']\n  u:",
    "signals: {s: x, s: y}",
    "checks:\n  - name: lint\n    run: ruff check .\n    after: s, t\n    timeout: 2m",
    "checks:\n  - {name: c, run: 'x', watch: ['**/*.py']}\n  - name: d",
    "checks: nope",
    "base: &b {retries: 1}\ndefaults:\n  <<: *b\n  runner: llm",
    "feature: &a x\nother: *a",
    "? complex\n: key",
    "[a, b]: c",
    "feature: 2001-12-14",
    "feature: !!binary aGVsbG8=",
    "feature: !custom x",
    "feature: 'unclosed",
    "feature: [unclosed",
    "feature: {a: 1",
    "  bad: indent",
    "\tfeature: tab",
    "feature: a: b",
    "- just\n- a list",
    "%YAML 1.1",
    "--- second",
    "feature: ü 🎉 𝄞",
    "feature: \x07",
    "feature: \x85\u2028\u2029\ufeff",
    "key with spaces: v",
    "emits: s  ,  t",
    "feature: ' spaced '   # c",
    'feature: "a\\\n  b"',
    "",
    "# only a comment",
]


def both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Spec, Spec]:
    """The spec parsed with libyaml (where PyYAML has it) and with the pure loader."""
    fast = parse_spec(text, PATH)
    with monkeypatch.context() as patched:
        patched.setattr(spec_front_matter, "_LIBYAML", False)
        pure = parse_spec(text, PATH)
    return fast, pure


def assert_same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, pure = both(text, monkeypatch)
    assert fast.model_dump() == pure.model_dump(), text


def test_libyaml_is_used_where_pyyaml_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # not a test of nothing: the fast path runs here, and the pure one when it is turned off
    assert yaml.__with_libyaml__
    used: list[str] = []

    class FastSpy(yaml.CSafeLoader):
        def __init__(self, stream: str) -> None:
            used.append("libyaml")
            super().__init__(stream)

    class PureSpy(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            used.append("pure")
            super().__init__(stream)

    monkeypatch.setattr(spec_front_matter.yaml, "CSafeLoader", FastSpy)
    monkeypatch.setattr(spec_front_matter.yaml, "SafeLoader", PureSpy)
    both("---\nfeature: x\n---\n## a\n", monkeypatch)
    assert used == ["libyaml", "pure"]
    used.clear()
    parse_spec("---\nfeature: [x\n---\n## a\n", PATH)  # libyaml refuses: the pure loader says why
    assert used == ["libyaml", "pure"]


@MANY
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=8), st.text(max_size=6))
@example(["feature: a: b"], "")
# where libyaml is more lenient than PyYAML (found by these tests): the pure loader reads them
@example(["context: [AGENTS.md, d?ocs/ontology.md]"], "")
@example(["feature: Course\t- tab\n enrollment"], "")
@example(["feature: !:!"], "")
@example(["feature: >#"], "")
@example(["context: a.md, b.md", "checks:\n  - name: d"], "")
def test_generated_front_matter(pieces: list[str], noise: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same("---\n" + "\n".join([*pieces, noise]) + "\n---\n## a\nneeds: s\n", monkeypatch)


@MANY
@given(mutated_spec())
def test_mutated_valid_spec(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(text, monkeypatch)


@MANY
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS + YAML_PIECES), st.text(max_size=10)), max_size=20))
def test_spec_like_lines(lines: list[str]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same("---\n" + "\n".join(lines) + "\n", monkeypatch)


def spec_texts_of_the_tests() -> list[str]:
    """Every string constant with a front matter in the other spec tests."""
    texts = [VALID_SPEC]
    for name in ("test_spec_parser", "test_spec_validate", "test_spec_names_paths"):
        source = (Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8")
        for node in __import__("ast").walk(__import__("ast").parse(source)):
            value = getattr(node, "value", None)
            if isinstance(value, str) and value.lstrip("\ufeff").startswith("---"):
                texts.append(value)
    return texts


def test_the_specs_of_the_other_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = spec_texts_of_the_tests()
    assert len(texts) > 20
    for text in texts:
        assert_same(text, monkeypatch)

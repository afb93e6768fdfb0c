"""Names and paths in a spec: the name grammar and paths that would leave the workspace.

Every finding is checked at its exact range; real files and symlinks on disk, the workspace
root found as the engine finds it (the nearest folder with ``.git``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from counterpoint.engine.spec import format_cli, load_spec
from counterpoint_protocol.spec import (
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    Severity,
    SourceRange,
    Spec,
    is_valid_name,
)


def r(line: int, col: int, end_col: int) -> SourceRange:
    return SourceRange.on_line(line, col, end_col)


def workspace(tmp_path: Path) -> Path:
    """``tmp/ws`` as a git workspace (its root), with the spec in the subfolder ``ws/specs``."""
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    (root / "specs").mkdir()
    return root


def load(root: Path, text: str) -> Spec:
    return load_spec(text, root / "specs" / "x.agents.md")


def errors(spec: Spec, code: str) -> list[tuple[SourceRange, str]]:
    return [(d.range, d.message) for d in spec.diagnostics if d.code == code and d.severity == Severity.ERROR]


# -- the name grammar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["backend", "a", "_x", "api.v2", "front-end_2", "A" * NAME_MAX_LENGTH, "x..y"]
)
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)
    assert re.fullmatch(NAME_PATTERN, name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../../../../x",
        "a/b",
        "a\\b",
        ".hidden",
        "..",
        "-x",
        "1st",
        "two words",
        "x,y",
        "büild",
        "é",
        "A" * (NAME_MAX_LENGTH + 1),
        "a\nb",
        "a:b",
        "ok\x00",
    ],
)
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)


def test_agent_names_outside_the_grammar_are_errors_at_the_name(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    text = "## ../../../../x\nrunner: command\ncommand: 'true'\n## a/b\nrunner: command\ncommand: 'true'\n"
    spec = load(root, text)
    found = errors(spec, "invalid-agent-name")
    assert [rng for rng, _ in found] == [r(0, 3, 16), r(3, 3, 6)]
    assert "'../../../../x'" in found[0][1] and "letter" in found[0][1]
    line = format_cli(next(d for d in spec.diagnostics if d.code == "invalid-agent-name"), "x.agents.md")
    assert line.startswith("x.agents.md:1:4: error: ") and line.endswith("[invalid-agent-name]")


def test_signal_and_check_names_outside_the_grammar(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    text = (
        "---\nsignals:\n  ok: 'a.txt'\n  'bad/sig': 'b.txt'\nchecks:\n  - name: ../lint\n    run: 'true'\n---\n"
        "## a\nrunner: command\ncommand: 'true'\nemits: fine, no way\n"
    )
    spec = load(root, text)
    assert [rng for rng, _ in errors(spec, "invalid-signal-name")] == [r(3, 2, 11), r(11, 13, 19)]
    assert [rng for rng, _ in errors(spec, "invalid-check-name")] == [r(5, 10, 17)]


def test_a_long_name_is_an_error(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    name = "a" * (NAME_MAX_LENGTH + 1)
    spec = load(root, f"## {name}\nrunner: command\ncommand: 'true'\n")
    ((rng, message),) = errors(spec, "invalid-agent-name")
    assert rng == r(0, 3, 3 + len(name))
    assert str(NAME_MAX_LENGTH) in message


# -- paths that leave the workspace ----------------------------------------------------------------

OUTSIDE_SPEC = """\
---
context: [notes.md, ../../secret.md]
checks:
  - name: tests
    run: 'true'
    format: junit:../../out.xml
  - name: lint
    run: 'true'
    format: sarif:/tmp/x.sarif
---
## builder
runner: command
command: 'true'
cwd: ../../..
## player
transcript: /etc/passwd
## player2
transcript: ../t.jsonl
"""


def test_paths_leaving_the_workspace_are_errors_at_their_exact_ranges(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    (root / "t.jsonl").write_text('{"action": "say", "text": "hi"}\n')  # ws/t.jsonl: inside the root
    spec = load(root, OUTSIDE_SPEC)
    found = errors(spec, "path-outside-workspace")
    assert [rng for rng, _ in found] == [
        r(1, 20, 35),  # context item ../../secret.md
        r(5, 18, 31),  # the junit report file
        r(8, 18, 30),  # the sarif report file
        r(13, 5, 13),  # cwd
        r(15, 12, 23),  # transcript /etc/passwd
    ]
    assert all("outside the workspace" in message for _, message in found)
    assert "'../../secret.md'" in found[0][1]


def test_a_symlink_out_of_the_workspace_is_outside(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"action": "say", "text": "hi"}\n')
    (root / "specs" / "link.jsonl").symlink_to(outside)
    (root / "specs" / "away").symlink_to(tmp_path, target_is_directory=True)
    text = "## a\ntranscript: link.jsonl\n## b\nrunner: command\ncommand: 'true'\ncwd: away\n"
    spec = load(root, text)
    assert [rng for rng, _ in errors(spec, "path-outside-workspace")] == [r(1, 12, 22), r(5, 5, 9)]


def test_front_matter_defaults_are_flagged_at_their_value(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    text = "---\ndefaults:\n  transcript: /etc/passwd\n---\n## a\n## b\n"
    spec = load(root, text)
    assert [rng for rng, _ in errors(spec, "path-outside-workspace")] == [r(2, 14, 25)]


def test_paths_inside_the_workspace_are_fine(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    (root / "shared.md").write_text("x")
    (root / "t.jsonl").write_text('{"action": "say", "text": "hi"}\n')
    (root / "tools").mkdir()
    text = (
        "---\ncontext: [../shared.md]\nchecks:\n  - name: tests\n    run: 'true'\n"
        "    format: junit:../.counterpoint/junit.xml\n---\n"
        "## a\ntranscript: ../t.jsonl\n## b\nrunner: command\ncommand: 'true'\ncwd: ../tools\n"
    )
    spec = load(root, text)
    assert [d for d in spec.diagnostics if d.severity == Severity.ERROR] == []


# -- transcripts, line by line ------------------------------------------------------------------


def test_bad_transcript_lines_are_errors_at_the_transcript_setting(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    lines = [
        json.dumps({"action": "say", "text": "fine"}),
        json.dumps({"action": "think", "seconds": "abc"}),
        json.dumps({"action": "write_file", "path": ["a"], "content": "x"}),
        "// a comment",
        json.dumps({"action": "emit", "signal": "s", "metadata": [1, 2]}),
        "{not json",
        json.dumps({"action": "dance"}),
        json.dumps([1, 2]),
    ]
    (root / "specs" / "t.jsonl").write_text("\n".join(lines) + "\n")
    spec = load(root, "## a\ntranscript: t.jsonl\n")
    found = errors(spec, "invalid-transcript")
    assert {rng for rng, _ in found} == {r(1, 12, 19)}
    messages = [message for _, message in found]
    assert [m.split(":", 2)[:2] for m in messages] == [
        ["transcript t.jsonl", "2"],
        ["transcript t.jsonl", "3"],
        ["transcript t.jsonl", "5"],
        ["transcript t.jsonl", "6"],
        ["transcript t.jsonl", "7"],
        ["transcript t.jsonl", "8"],
    ]
    assert "seconds" in messages[0] and "path" in messages[1] and "metadata" in messages[2]
    assert "dance" in messages[4]
    assert all("\n" not in m for m in messages)

"""Tests for the replay runner: real transcripts played through the confined workspace tools."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.runners.base import AgentFailed
from counterpoint.engine.runners.replay import ReplayRunner, load_transcript

from tests.unit.agent_harness import Harness, make_harness


def transcript(root: Path, *steps: dict[str, Any] | str, name: str = "t.jsonl") -> str:
    """Write a transcript (dicts as JSON lines, strings verbatim); returns its name."""
    lines = [step if isinstance(step, str) else json.dumps(step) for step in steps]
    (root / name).write_text("\n".join(lines) + "\n")
    return name


def replay(root: Path, *steps: dict[str, Any] | str, **kw: Any) -> Harness:
    return make_harness(root, runner="replay", transcript=transcript(root, *steps), **kw)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("{not json", r"t\.jsonl:2: not JSON"),
        ('{"action": "dance"}', r"t\.jsonl:2: unknown action \"dance\""),
        ("[1, 2]", r"t\.jsonl:2: expected a JSON object with an 'action', got a list"),
        ({"action": "think", "seconds": "abc"}, r"t\.jsonl:2: think: 'seconds': .*got the string \"abc\""),
        ({"action": "think", "seconds": -1}, r"t\.jsonl:2: think: 'seconds'"),
        (
            {"action": "write_file", "path": ["a"], "content": "x"},
            r"t\.jsonl:2: write_file: 'path': .*a list",
        ),
        ({"action": "write_file", "path": 7}, r"t\.jsonl:2: write_file: 'path': .*the number 7"),
        ({"action": "write_file", "content": "no path"}, r"t\.jsonl:2: write_file: missing 'path'"),
        ({"action": "emit", "signal": "s", "metadata": [1]}, r"t\.jsonl:2: emit: 'metadata': .*a list"),
        ({"action": "wait", "signal": "s", "timeout": "soon"}, r"t\.jsonl:2: wait: 'timeout'"),
        ({"action": "say", "txt": "typo"}, r"t\.jsonl:2: say: unknown field 'txt'"),
    ],
)
async def test_a_bad_line_fails_the_agent_before_any_step(
    tmp_path: Path, bad: dict[str, Any] | str, expected: str
) -> None:
    harness = replay(
        tmp_path,
        {"action": "write_file", "path": "first.txt", "content": "x"},
        bad,
        "// a comment",
        "",
        {"action": "say", "text": "last"},
    )
    with pytest.raises(AgentFailed, match=expected) as caught:
        await ReplayRunner().run(harness.ctx)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    assert not (tmp_path / "first.txt").exists()  # validated first: nothing was done
    assert not list(tmp_path.glob("[[]*"))  # no file named "['a']"
    assert harness.outputs == []


async def test_every_bad_line_is_counted_in_the_one_line_message(tmp_path: Path) -> None:
    harness = replay(
        tmp_path, {"action": "say", "text": "a"}, "oops", {"action": "think", "seconds": "x"}, "[]"
    )
    with pytest.raises(
        AgentFailed, match=r"^t\.jsonl:2: not JSON .*\(and 2 more bad lines: see `counterpoint check`\)$"
    ):
        await ReplayRunner().run(harness.ctx)


async def test_load_transcript_gives_steps_with_line_numbers(tmp_path: Path) -> None:
    name = transcript(tmp_path, {"action": "say", "text": "a"}, "// note", {"action": "think", "seconds": 1})
    steps = await load_transcript(tmp_path / name, tmp_path)
    assert [(line, step.action) for line, step in steps] == [(1, "say"), (3, "think")]


async def test_missing_transcript_fails_clearly(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, runner="replay", transcript="nowhere.jsonl")
    with pytest.raises(AgentFailed, match=r"transcript not found: .*nowhere\.jsonl"):
        await ReplayRunner().run(harness.ctx)


async def test_speed_scales_recorded_durations(tmp_path: Path) -> None:
    steps = [{"action": "think", "seconds": 1.0, "text": f"step {i}"} for i in range(4)]
    harness = replay(tmp_path, *steps, speed=40.0)
    started = time.monotonic()
    await ReplayRunner().run(harness.ctx)
    elapsed = time.monotonic() - started
    assert harness.outputs == ["step 0", "step 1", "step 2", "step 3"]
    assert elapsed < 2.0  # 4 s recorded, 0.1 s at 40x: a loose bound


async def test_agent_speed_setting_wins_over_the_run_speed(tmp_path: Path) -> None:
    name = transcript(tmp_path, {"action": "think", "seconds": 3.0, "text": "slow"})
    harness = make_harness(tmp_path, runner="replay", transcript=name, speed=0.001)
    harness.ctx.agent.settings.speed = 100.0
    started = time.monotonic()
    await ReplayRunner().run(harness.ctx)
    assert time.monotonic() - started < 2.0


async def test_write_and_edit_go_through_the_workspace_tools(tmp_path: Path) -> None:
    harness = replay(
        tmp_path,
        {"action": "write_file", "path": "app/schema.py", "content": "A = 1\nB = 2\n"},
        {"action": "edit_file", "path": "app/schema.py", "search": "B = 2", "replace": "B = 3"},
        {"action": "read_file", "path": "app/schema.py"},
        {"action": "emit", "signal": "schema_ready", "metadata": {"tables": 2}},
        name="backend",
    )
    await ReplayRunner().run(harness.ctx)
    assert (tmp_path / "app" / "schema.py").read_text() == "A = 1\nB = 3\n"
    assert [(w.actor, w.path, w.created) for w in harness.writes] == [
        ("backend", "app/schema.py", True),
        ("backend", "app/schema.py", False),
    ]
    assert [(actor, tool, error) for actor, tool, _, _, error in harness.tool_calls] == [
        ("backend", "write_file", None),
        ("backend", "edit_file", None),
        ("backend", "read_file", None),
    ]
    assert harness.signals == [("schema_ready", {"tables": 2})]
    assert harness.outputs == ["wrote app/schema.py", "edited app/schema.py"]


async def test_edit_with_text_found_twice_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\nx = 1\n")
    harness = replay(tmp_path, {"action": "edit_file", "path": "m.py", "search": "x = 1", "replace": "x = 2"})
    with pytest.raises(AgentFailed) as caught:
        await ReplayRunner().run(harness.ctx)
    assert "transcript line 1" in str(caught.value)
    assert "occurs 2 times in m.py" in str(caught.value)
    assert (tmp_path / "m.py").read_text() == "x = 1\nx = 1\n"
    assert harness.tool_calls[-1][4] is not None  # the failed call is recorded with its error


async def test_edit_with_missing_text_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    harness = replay(
        tmp_path,
        {"action": "say", "text": "editing"},
        {"action": "edit_file", "path": "m.py", "search": "y = 1", "replace": "y = 2"},
    )
    with pytest.raises(AgentFailed, match=r"transcript line 2: .*search text was not found in m\.py"):
        await ReplayRunner().run(harness.ctx)
    assert (tmp_path / "m.py").read_text() == "x = 1\n"


async def test_edit_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    harness = replay(tmp_path, {"action": "edit_file", "path": "gone.py", "search": "a", "replace": "b"})
    with pytest.raises(AgentFailed, match=r"no such file: gone\.py"):
        await ReplayRunner().run(harness.ctx)


async def test_write_outside_the_workspace_fails(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    harness = replay(root, {"action": "write_file", "path": "../escaped.txt", "content": "x"})
    with pytest.raises(AgentFailed, match="outside the workspace"):
        await ReplayRunner().run(harness.ctx)
    assert not (tmp_path / "escaped.txt").exists()


async def test_fail_step_fails_the_agent_and_stops(tmp_path: Path) -> None:
    harness = replay(
        tmp_path,
        {"action": "say", "text": "before"},
        {"action": "fail", "message": "the schema does not compile"},
        {"action": "write_file", "path": "after.txt", "content": "never"},
    )
    with pytest.raises(AgentFailed, match=r"^the schema does not compile$"):
        await ReplayRunner().run(harness.ctx)
    assert harness.outputs == ["before"]
    assert not (tmp_path / "after.txt").exists()


async def test_run_step_needs_consent(tmp_path: Path) -> None:
    harness = replay(tmp_path, {"action": "run", "command": "touch marker"}, trust=False)
    with pytest.raises(AgentFailed, match="--trust"):
        await ReplayRunner().run(harness.ctx)
    assert not (tmp_path / "marker").exists()


async def test_run_step_runs_and_records_with_consent(tmp_path: Path) -> None:
    harness = replay(
        tmp_path,
        {"action": "run", "command": "echo ran > marker; echo hello"},
        {"action": "run", "command": "exit 4"},
    )
    with pytest.raises(AgentFailed, match="transcript line 2: `exit 4` exited with 4"):
        await ReplayRunner().run(harness.ctx)
    assert (tmp_path / "marker").read_text() == "ran\n"
    assert "hello" in harness.outputs
    assert harness.records[0] == (
        "tool_call",
        "run_command",
        {"command": "echo ran > marker; echo hello", "exit_code": 0},
    )


async def test_wait_for_a_signal_that_never_fires_fails(tmp_path: Path) -> None:
    harness = replay(tmp_path, {"action": "wait", "signal": "never", "timeout": 0.01})
    with pytest.raises(AgentFailed, match="timed out waiting for signal 'never'"):
        await ReplayRunner().run(harness.ctx)


async def test_unicode_line_separators_inside_json_strings(tmp_path: Path) -> None:
    """Only ``\\n`` ends a JSONL line: U+2028 and friends are legal raw characters in JSON strings."""
    text = "one\u2028two\x1cthree\u0085four"
    steps = [{"action": "write_file", "path": "notes.txt", "content": text}, {"action": "say", "text": "ok"}]
    (tmp_path / "t.jsonl").write_text(
        "".join(json.dumps(step, ensure_ascii=False) + "\n" for step in steps), encoding="utf-8"
    )
    harness = make_harness(tmp_path, runner="replay", transcript="t.jsonl")
    await ReplayRunner().run(harness.ctx)
    assert harness.outputs == ["wrote notes.txt", "ok"]
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == text

"""Presets per runner: `check` knows which runner has which, the ACP runner starts its preset.

The validator is the real one (parser + checks, programs looked up on a PATH of the test's own);
the run starts a real `claude-code-acp` on PATH: a script that execs the fake ACP agent.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from counterpoint.engine.runners.acp import ACP_PRESETS
from counterpoint.engine.runners.command import PRESETS
from counterpoint.engine.spec import load_spec
from counterpoint_protocol.export import SCHEMA_DIR, schemas
from counterpoint_protocol.presets import RUNNER_PRESETS
from counterpoint_protocol.spec import COMMAND_PRESETS, SourceRange

from tests.acp.test_acp_runner import FAKE_AGENT, finished, lines, run_spec

SPEC = """\
# presets

## claude
runner: acp
preset: claude-code

## typo
runner: acp
preset: aider

## cli
runner: command
preset: opencode

## model
runner: llm
model: openai:gpt-4o
preset: codex

## bare
runner: acp
"""


def codes(text: str, folder: Path | None = None) -> list[tuple[str, SourceRange, str]]:
    spec = (
        load_spec(text, folder / "x.agents.md")
        if folder is not None
        else load_spec(text, Path("/nowhere/x.agents.md"), check_files=False)
    )
    return [(d.code, d.range, d.message) for d in spec.diagnostics]


def test_check_names_the_presets_of_each_runner() -> None:
    found = codes(SPEC)
    assert [(code, rng) for code, rng, _ in found] == [
        ("unknown-preset", SourceRange.on_line(8, 8, 13)),
        ("unknown-preset", SourceRange.on_line(12, 8, 16)),
        ("unsupported-preset", SourceRange.on_line(17, 8, 13)),
        ("missing-command", SourceRange.on_line(19, 0, 7)),
    ]
    messages = [message for _, _, message in found]
    assert "acp presets: claude-code, codex, gemini, opencode" in messages[0]
    assert "command presets: claude-code, aider, codex, gemini" in messages[1]
    assert "runner 'llm' has no presets" in messages[2] and "command, acp" in messages[2]
    assert "'command:' or 'preset:'" in messages[3]


def test_check_looks_up_the_program_a_preset_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "codex-acp", "#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    text = "## a\nrunner: acp\npreset: claude-code\n## b\nrunner: acp\npreset: codex\n"
    assert codes(text, tmp_path) == [
        (
            "program-not-found",
            SourceRange.on_line(2, 8, 19),
            "program 'claude-code-acp' is not on PATH (preset 'claude-code' runs `claude-code-acp`)",
        )
    ]


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COUNTERPOINT_TRUST", "1")
    root = tmp_path / "ws"
    (root / ".counterpoint").mkdir(parents=True)
    (root / "input.txt").write_text("hello preset\n")
    return root


async def test_acp_runner_starts_its_preset(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "claude-code-acp", f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_AGENT}" write\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    path = workspace / "feature.agents.md"
    path.write_text("# feature\n\n## coder\nrunner: acp\npreset: claude-code\n\nDo the task.\n")
    spec = load_spec(path.read_text(), path)
    assert not spec.diagnostics, spec.diagnostics

    status, events, _ = await run_spec(workspace, spec)

    assert status == "succeeded", finished(events, "coder").metadata
    assert (workspace / "output.txt").read_text() == "HELLO PRESET\n"
    assert "Done." in lines(events)


async def test_acp_runner_without_command_or_known_preset_fails(workspace: Path) -> None:
    path = workspace / "feature.agents.md"
    path.write_text("# feature\n\n## coder\nrunner: acp\npreset: aider\n\nDo the task.\n")
    spec = load_spec(path.read_text(), path, check_files=False)  # run despite the finding

    status, events, _ = await run_spec(workspace, spec)

    assert status == "failed"
    error = finished(events, "coder").metadata["error"]
    assert "known `preset:` (claude-code, codex, gemini, opencode)" in error


def test_one_table_shared_with_the_editors() -> None:
    assert PRESETS is RUNNER_PRESETS["command"] and ACP_PRESETS is RUNNER_PRESETS["acp"]
    assert tuple(PRESETS) == COMMAND_PRESETS
    exported = json.loads((SCHEMA_DIR / "methods.json").read_text())
    assert exported["presets"] == RUNNER_PRESETS == schemas()["methods.json"]["presets"]

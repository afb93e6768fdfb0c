"""The README's live-agents example: LLM agents (OpenAI, Anthropic) and an ACP agent against loopback fakes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_live_agents_example_runs_against_the_fakes(tmp_path: Path) -> None:
    example = tmp_path / "examples" / "live-agents"
    shutil.copytree(
        ROOT / "examples" / "live-agents", example, ignore=shutil.ignore_patterns("out", "output.txt")
    )
    # The script finds the fakes and the venv relative to the repository root: link them in.
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    result = subprocess.run(
        [str(example / "run-against-fakes.sh"), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (example / "out" / "planner.txt").is_file()
    assert (example / "out" / "writer.txt").is_file()
    assert (example / "output.txt").read_text() == "REVIEW ME\n"
    runs = sorted((example / ".counterpoint" / "runs").iterdir())
    report = json.loads((runs[-1] / "report.json").read_text())
    assert report["status"] == "succeeded"
    assert set(report["usage"]) == {"planner", "writer"}
    assert all(u["cache_read_tokens"] > 0 for u in report["usage"].values())
    # The fake keys never reach the log or the report.
    assert "sk-fake-openai-key" not in (runs[-1] / "report.json").read_text()

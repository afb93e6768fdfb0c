"""Fixtures shared by every test: example workspaces in temporary folders, clean user config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps its files (examples, constants) out of the checkout: tests write only to
# temporary folders.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "counterpoint-hypothesis"))
settings.register_profile("counterpoint", database=None)
settings.load_profile("counterpoint")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "course-enrollment"
SPEC_NAME = "course-enrollment.agents.md"


@pytest.fixture(autouse=True)
def _user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep user-level config (trust, prices) out of $HOME."""
    config = tmp_path_factory.mktemp("xdg-config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("COUNTERPOINT_TRUST", raising=False)
    return config


def copy_example(dest: Path) -> Path:
    """A fresh copy of the example as its own git workspace; returns the spec's path."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("app", ".counterpoint"))
    (dest / ".counterpoint").mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    return dest / SPEC_NAME


def backend_waits_for_the_first_test_report(spec: Path) -> None:
    """Make "found early" a matter of ordering in a copy of the example, not of a busy machine's clock.

    The example's backend reviews its work for a few seconds after its mutations exist; on a loaded
    machine the `tests` check (a pytest subprocess) may take longer than that to report. Here the
    check writes its JUnit report where the watcher sees it (a file signal, ``tests_reported``) and
    the backend ends its review only after that signal: the finding is made while a builder works.
    """
    text = spec.read_text()
    assert ".counterpoint/junit.xml" in text
    text = text.replace(".counterpoint/junit.xml", "reports/junit.xml")
    text = text.replace("signals:", 'signals:\n  tests_reported: "reports/junit.xml"', 1)
    spec.write_text(text)
    transcript = spec.parent / "transcripts" / "backend.jsonl"
    steps = [json.loads(line) for line in transcript.read_text().splitlines() if line.strip()]
    emitted = next(i for i, step in enumerate(steps) if step.get("signal") == "mutations_ready")
    steps.insert(emitted + 1, {"action": "wait", "signal": "tests_reported", "timeout": 120})
    transcript.write_text("".join(json.dumps(step) + "\n" for step in steps))


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "course-enrollment")


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env

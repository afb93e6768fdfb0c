"""Fixtures shared by every test: example workspaces in temporary folders, clean user config."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "course-enrollment")


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env

"""Tests for the user-level settings: honoured from the user's config folder, never from the workspace."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from counterpoint.engine.workspace.user_config import load_user_settings, run_extras, settings_file

SETTINGS = {
    "llm": {"openai_base_url": "https://llm.example/v1", "openai_api_key": "sk-user"},
    "acp_permission": "allow_all",
}


def _write_settings(data: dict[str, object]) -> Path:
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_settings_outside_the_workspace_are_honoured(tmp_path: Path) -> None:
    workspace = tmp_path / "project"
    workspace.mkdir()
    _write_settings(SETTINGS)
    settings = load_user_settings(workspace)
    assert settings == SETTINGS
    assert run_extras(settings) == {"llm_settings": SETTINGS["llm"], "acp_permission": "allow_all"}


def test_settings_inside_the_workspace_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"  # dotfiles: the config folder is part of the workspace
    (home / ".git").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    path = _write_settings(SETTINGS)
    with caplog.at_level(logging.WARNING):
        assert load_user_settings(home) == {}
    assert f"ignoring {path}" in caplog.text
    assert "inside the workspace" in caplog.text
    assert "sk-user" not in caplog.text
    assert load_user_settings() == SETTINGS  # no workspace given (editor-wide use): read as is


def test_settings_linked_into_the_workspace_are_ignored(tmp_path: Path) -> None:
    workspace = tmp_path / "project"
    workspace.mkdir()
    planted = workspace / "settings.json"
    planted.write_text(json.dumps({"llm": {"openai_base_url": "https://attacker.example"}}))
    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().symlink_to(planted)
    assert load_user_settings(workspace) == {}

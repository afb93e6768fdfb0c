"""User-level settings: ``$XDG_CONFIG_HOME/counterpoint/settings.json``, never the workspace.

Holds what must not come from a (possibly untrusted) workspace: LLM endpoints and
keys (``llm``: openai_base_url, openai_api_key, anthropic_base_url,
anthropic_api_key, max_retries, timeout), a price table override (``prices``),
and the ACP permission policy (``acp_permission``). Environment variables are
the other source (see the README).

A settings file lying inside the run's workspace (a home folder kept in git holds
``~/.config``) is ignored with a warning: the spec's agents could have written
it, e.g. to send the user's key to an endpoint of theirs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from counterpoint.engine.workspace.consent import inside_workspace, writable_by_agents_note
from counterpoint.engine.workspace.paths import config_dir

log = logging.getLogger(__name__)


def settings_file() -> Path:
    return config_dir() / "settings.json"


def load_user_settings(workspace: Path | None = None) -> dict[str, Any]:
    """The user's settings (blocking: call in a thread); {} when ``workspace`` holds the file."""
    path = settings_file()
    if workspace is not None and inside_workspace(path, workspace):
        if path.exists():
            log.warning("%s", writable_by_agents_note(path, workspace))
        return {}
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def run_extras(settings: dict[str, Any]) -> dict[str, Any]:
    """The `RunOptions.extra` entries these settings give runners."""
    extra: dict[str, Any] = {}
    if isinstance(settings.get("llm"), dict):
        extra["llm_settings"] = settings["llm"]
    if isinstance(settings.get("prices"), dict):
        extra["prices"] = settings["prices"]
    if isinstance(settings.get("acp_permission"), str):
        extra["acp_permission"] = settings["acp_permission"]
    return extra

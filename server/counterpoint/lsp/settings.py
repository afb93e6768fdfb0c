"""Server settings from `initializationOptions` and `workspace/configuration`, validated."""

from __future__ import annotations

from typing import Any

from counterpoint_protocol.messages import ServerSettings
from pydantic import ValidationError


def validate_settings(raw: Any) -> tuple[ServerSettings, list[str]]:
    """The settings, with a message for every bad value (which falls back to its default)."""
    if raw is None or raw == [] or raw == {}:  # Neovim sends an empty Lua table as []
        return ServerSettings(), []
    if not isinstance(raw, dict):
        return ServerSettings(), [f"settings must be an object, got {type(raw).__name__}; using the defaults"]
    nested = raw.get("counterpoint")
    if nested == []:
        return ServerSettings(), []
    raw = dict(nested) if isinstance(nested, dict) else dict(raw)
    problems: list[str] = []
    for _ in range(len(raw) + 1):
        try:
            return ServerSettings.model_validate(raw), problems
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else ""
                problems.append(
                    f"setting counterpoint.{key}: {error['msg']} (got {raw.get(key)!r}); using the default"
                )
                raw.pop(key, None)
    return ServerSettings(), problems

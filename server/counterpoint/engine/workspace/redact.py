"""Keeping secrets out of events, progress and reports.

Values of keys named like secrets, and strings that look like API keys or
bearer tokens, are replaced before anything is logged or sent to an editor.
There is no process-wide redactor: each event log (one a workspace) has its own,
so the secrets one workspace's spec declares never reach another's.
"""

from __future__ import annotations

import os
import re
from typing import Any

REDACTED = "***"
_SECRET_KEY = re.compile(
    r"(^|[_\-.])(api[_-]?key|apikey|token|secret|secret[_-]?key|passw(or)?d|authorization|credentials?)$",
    re.I,
)
_SECRET_VALUE = re.compile(
    r"(sk-(ant-)?[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic style keys
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|xox[abpr]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|(?<=Bearer )[A-Za-z0-9._\-]{16,})"
)
_VALUE_MARKERS = ("sk-", "gh", "xox", "AKIA", "Bearer ")
"""Every alternative of `_SECRET_VALUE` starts with one of these: a string with none of them needs
no regex scan (a cheap test; the event log redacts every event). Keep the two in step."""


def is_secret_key(name: str) -> bool:
    """Whether a variable or key of this name holds a secret (``API_KEY``, ``github_token``...)."""
    return bool(_SECRET_KEY.search(name))


def _secret_env_values() -> list[str]:
    return [value for key, value in os.environ.items() if _SECRET_KEY.search(key) and len(value) >= 8]


class Redactor:
    """Replaces secrets in strings and JSON-like structures."""

    def __init__(self, extra_values: list[str] | None = None) -> None:
        self.values = sorted({*_secret_env_values(), *(extra_values or [])}, key=len, reverse=True)

    def add(self, value: str) -> None:
        if len(value) >= 8 and value not in self.values:
            self.values.append(value)
            self.values.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if "sk-" in value or "gh" in value or "xox" in value or "AKIA" in value or "Bearer " in value:
            return _SECRET_VALUE.sub(REDACTED, value)
        return value

    def data(self, value: Any, key: str | None = None) -> Any:
        if key is not None and _SECRET_KEY.search(key) and isinstance(value, str):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

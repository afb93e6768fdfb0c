"""The per-event work of the event log, kept cheap: it runs for every append and every row read.

- `stamp`: the wall-clock timestamp (``2026-11-27T20:54:04.123Z``), formatting the date part
  once a second instead of once an event;
- `redact_metadata`: the redactor's rules on a flat metadata dict without recursion, with the
  "is this key a secret" answer remembered per key; nested values take the redactor's own path;
- `encode`: one shared JSON encoder (``json.dumps`` with ``default=`` builds one per call);
- `new_event`: an `Event` from trusted fields, as ``model_construct`` builds it, minus its
  per-field defaults and checks (the log's own rows are valid by construction).
"""

from __future__ import annotations

import json
import time
from typing import Any

from counterpoint_protocol.events import Event

from counterpoint.engine.redact import REDACTED, Redactor, is_secret_key

_encoder = json.JSONEncoder(default=str)
encode = _encoder.encode
_SCALARS = (int, float, bool, type(None))
_secret_keys: dict[str, bool] = {}
_second = -1
_prefix = ""


def stamp() -> str:
    """UTC now, millisecond precision, as `counterpoint_protocol.events.utc_timestamp` writes it."""
    global _second, _prefix
    now = time.time()
    second = int(now)
    if second != _second:
        _prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        _second = second
    return f"{_prefix}{int((now - second) * 1000):03d}Z"


def _secret(key: str) -> bool:
    known = _secret_keys.get(key)
    if known is None:
        known = is_secret_key(key)
        if len(_secret_keys) < 4096:
            _secret_keys[key] = known
    return known


def redact_metadata(redactor: Redactor, metadata: dict[str, Any]) -> dict[str, Any]:
    """``redactor.data(metadata)``, fast for the usual flat dict of strings and numbers."""
    out: dict[str, Any] = {}
    text = redactor.text
    for key, value in metadata.items():
        if isinstance(value, str):
            out[key] = REDACTED if _secret(str(key)) else text(value)
        elif isinstance(value, _SCALARS):
            out[key] = value
        else:
            out[key] = redactor.data(value, str(key))
    return out


_new = Event.__new__
_set = object.__setattr__
_FIELDS = frozenset(Event.model_fields)


def new_event(
    id: int,
    run_id: str,
    type: str,
    actor: str | None,
    action: str | None,
    metadata: dict[str, Any],
    timestamp: str,
) -> Event:
    event = _new(Event)
    _set(
        event,
        "__dict__",
        {
            "id": id,
            "run_id": run_id,
            "type": type,
            "actor": actor,
            "action": action,
            "metadata": metadata,
            "timestamp": timestamp,
        },
    )
    _set(event, "__pydantic_fields_set__", set(_FIELDS))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event

"""The per-event work of the event log, kept cheap: it runs for every append and every row read.

- `stamp`: the wall-clock timestamp (``2026-11-27T20:54:04.123Z``), formatting the date part
  once a second instead of once an event;
- `redact_metadata`: the redactor's rules on a flat metadata dict without recursion, with the
  "is this key a secret" answer remembered per key; nested values take the redactor's own path;
- `clean_metadata`: the usual metadata needs no redaction, which one look at its JSON proves;
- `encode`: one shared JSON encoder (``json.dumps`` with ``default=`` builds one per call);
- `rows_to_events` (reading) and `deliver` (appending): `Event` objects from trusted fields, as
  ``model_construct`` builds them minus its per-field defaults and checks (the log's own rows are
  valid by construction), metadata parsed by pydantic-core (5x Python's json; the same values);
- `insert_rows`: a batch in a few multi-row ``INSERT`` statements, not one step a row.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, cast

from counterpoint_protocol.events import Event
from pydantic_core import from_json

from counterpoint.engine.workspace.redact import _VALUE_MARKERS, REDACTED, Redactor, is_secret_key

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


_escaped: dict[tuple[str, ...], tuple[str, ...]] = {}


def _holds_secret(values: list[str], text: str) -> bool:
    """Whether the JSON ``text`` holds one of the redactor's secret ``values`` (looked for as JSON
    escapes them: escaping maps each character on its own, so a value's secret is in its JSON)."""
    key = tuple(values)
    escaped = _escaped.get(key)
    if escaped is None:
        escaped = tuple(encode(value)[1:-1] for value in values)
        if len(_escaped) >= 64:
            _escaped.clear()
        _escaped[key] = escaped
    return any(value in text for value in escaped)


def clean_metadata(redactor: Redactor, metadata: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The redacted metadata as stored (its JSON text) and as delivered (a dict of its own).

    The usual metadata (flat, keys already known not to name secrets, and no pattern's marker nor
    secret in its JSON) is encoded as it is and copied; anything else takes `redact_metadata`,
    which gives the same result.
    """
    secret_keys = _secret_keys
    for key, value in metadata.items():
        if isinstance(value, str):
            if secret_keys.get(key) is not False:  # a secret's name, or not looked at yet
                break
        elif not isinstance(value, _SCALARS):
            break
    else:
        text = encode(metadata)
        for marker in _VALUE_MARKERS:
            if marker in text:
                break
        else:
            values = redactor.values
            if not values or not _holds_secret(values, text):
                return text, dict(metadata)
    meta = redact_metadata(redactor, metadata)
    return encode(meta), meta


_new = Event.__new__


def _setter(name: str) -> Callable[[Any, Any], None]:
    """The slot's own setter (cheaper than ``object.__setattr__``, which looks the slot up each time)."""
    for klass in Event.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None and hasattr(descriptor, "__set__"):
            return cast(Callable[[Any, Any], None], descriptor.__set__)
    return lambda obj, value: object.__setattr__(obj, name, value)


_set_dict = _setter("__dict__")
_set_fields = _setter("__pydantic_fields_set__")
_set_extra = _setter("__pydantic_extra__")
_set_private = _setter("__pydantic_private__")
_FIELDS = frozenset(Event.model_fields)
_EMPTY = "{}"


def rows_to_events(
    rows: Iterable[tuple[Any, ...]], run: str | None = None, kind: str | None = None
) -> list[Event]:
    """Events from rows of ``id, run_id, type, actor, action, metadata, timestamp``; ``run`` and
    ``kind``, when given, are every row's run_id and type (a query that filters on them need not
    read them: their columns may be NULL).

    One loop, no call per row but the metadata's parse, and one fields-set shared by the batch
    (it always holds every field; pydantic only ever adds to it): a query costs close to its SQL.
    """
    events: list[Event] = []
    append = events.append
    fields = set(_FIELDS)
    for id, run_id, type, actor, action, metadata, timestamp in rows:
        if metadata == _EMPTY:
            meta: Any = {}
        else:  # `decode`, inline (a call a row costs as much as the parse)
            try:
                meta = from_json(metadata)
            except ValueError:
                meta = json.loads(metadata)
        event = _new(Event)
        _set_dict(
            event,
            {
                "id": id,
                "run_id": run_id if run is None else run,
                "type": type if kind is None else kind,
                "actor": actor,
                "action": action,
                "metadata": meta,
                "timestamp": timestamp,
            },
        )
        _set_fields(event, fields)
        _set_extra(event, None)
        _set_private(event, None)
        append(event)
    return events


def deliver(batch: list[tuple[Any, ...]], first: int, every: bool) -> list[Event]:
    """The events of a committed batch of ``(*row, waiter, metadata)`` items, ids from ``first``,
    each waiter (a future, or None) resolved with its event. With ``every`` false (nobody
    subscribes) only the waited-for events are built and the list is empty: an event nobody
    waits for costs nothing here. One loop, as `rows_to_events`."""
    events: list[Event] = []
    append = events.append
    fields = set(_FIELDS)
    for id, (run_id, type, actor, action, _text, timestamp, waiter, meta) in enumerate(batch, first):
        if waiter is None and not every:
            continue
        event = _new(Event)
        _set_dict(
            event,
            {
                "id": id,
                "run_id": run_id,
                "type": type,
                "actor": actor,
                "action": action,
                "metadata": meta,
                "timestamp": timestamp,
            },
        )
        _set_fields(event, fields)
        _set_extra(event, None)
        _set_private(event, None)
        if every:
            append(event)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)
    return events


CHUNK = 128
"""Rows per ``INSERT`` statement (768 parameters: under every SQLite's limit of 999)."""
_COLUMNS = "run_id, type, actor, action, metadata, timestamp"


@cache
def _insert_sql(rows: int) -> str:
    return f"INSERT INTO events ({_COLUMNS}) VALUES " + ",".join(["(?, ?, ?, ?, ?, ?)"] * rows)


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows whose first six values are the six columns in order, ``CHUNK`` rows a statement.

    ``executemany`` steps SQLite once a row, and each step releases and takes back the GIL: a
    writer thread doing that waits for the busy event loop thread once a row. Chunks of powers
    of two keep the statements few (and cached) whatever the batch size.
    """
    done, total = 0, len(rows)
    while done < total:
        size = CHUNK
        while size > total - done:
            size >>= 1
        conn.execute(_insert_sql(size), [value for row in rows[done : done + size] for value in row[:6]])
        done += size

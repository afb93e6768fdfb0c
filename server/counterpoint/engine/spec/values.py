"""Plain values of a spec: durations, lists, comments, env mappings and hints.

Helpers the spec parser uses to turn setting text (or YAML values) into the
shapes `AgentSettings` takes, raising `SettingValueError` with a message for
the user; `validate_model` (a settings model, each bad value reported and dropped); plus `split_lines` (lines as LSP clients count them) and
`did_you_mean` (a spelling hint). The key sets of the settings models live here
too.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml
from counterpoint_protocol.spec import (
    RUNNER_NAMES,
    AgentSettings,
    CheckSettings,
    SourceRange,
    SpecFrontMatter,
)
from pydantic import BaseModel, ValidationError

AGENT_SETTING_KEYS = frozenset(AgentSettings.model_fields)
FRONT_MATTER_KEYS = frozenset(SpecFrontMatter.model_fields)
CHECK_KEYS = frozenset(CheckSettings.model_fields)
LIST_SETTINGS = frozenset({"needs", "emits"})

_Model = TypeVar("_Model", bound=BaseModel)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_QUOTE_OR_HASH = re.compile("[\"'#]")
_CUTOFF = 0.6
_SPELL_FLOOR = 20_000
_SPELL_PER_NAME = 1
_CACHED_WORD = 100


class SettingValueError(ValueError):
    """A setting value that cannot be used; the message is for the user."""


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as an LSP client counts them (always at least one)."""
    return _LINE_BREAK.split(text)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string.

    For a few candidates (setting keys, runners); many names go through a `Speller`.
    The answer does not depend on the candidates' order, so a short word is looked
    up once per set of candidates (a spec may misspell one key on every agent).
    """
    if len(word) > _CACHED_WORD:
        return _closest(word, frozenset(candidates))
    return _cached_closest(word, frozenset(candidates))


def _closest(word: str, candidates: frozenset[str]) -> str:
    return _hint(difflib.get_close_matches(word, list(candidates), n=1, cutoff=_CUTOFF))


_cached_closest = functools.lru_cache(maxsize=1024)(_closest)


def _hint(matches: list[str]) -> str:
    return f" (did you mean '{matches[0]}'?)" if matches else ""


class Speller:
    """`did_you_mean` over one big set of names, with total work linear in the spec.

    The answer is `did_you_mean`'s (the best match does not depend on the order of
    the candidates): names whose length alone rules them out are never compared, a
    word is looked up once, and all lookups together compare at most
    ``_SPELL_FLOOR + _SPELL_PER_NAME * len(names)`` names. Past that budget (a spec with
    thousands of names and thousands of misspellings) findings come without a hint.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.by_length: dict[int, list[str]] = {}
        count = 0
        for name in names:
            self.by_length.setdefault(len(name), []).append(name)
            count += 1
        self.budget = _SPELL_FLOOR + _SPELL_PER_NAME * count
        self.hints: dict[str, str] = {}

    def hint(self, word: str) -> str:
        if word not in self.hints:
            self.hints[word] = self._lookup(word)
        return self.hints[word]

    def _lookup(self, word: str) -> str:
        size = len(word)
        # the same bound as difflib's real_quick_ratio: 2 * min / total >= cutoff
        fitting = [
            names
            for length, names in self.by_length.items()
            if (2.0 * min(size, length) / (size + length) if size + length else 1.0) >= _CUTOFF
        ]
        work = sum(len(names) for names in fitting)
        if work > self.budget:
            return ""
        self.budget -= work
        candidates = [name for names in fitting for name in names]
        return _hint(difflib.get_close_matches(word, candidates, n=1, cutoff=_CUTOFF))


def parse_duration(value: object) -> float:
    """Seconds from a number or a text like ``90``, ``30s``, ``10m``, ``1h30m``, ``500ms``."""
    if isinstance(value, bool):
        raise SettingValueError("expected a duration, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_from_text(value.strip())
    else:
        raise SettingValueError("expected a duration such as 90, 30s, 10m or 1h30m")
    if not seconds > 0 or seconds == float("inf"):
        raise SettingValueError("a duration must be a positive number of seconds")
    return seconds


def _duration_from_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    total, pos, seen = 0.0, 0, list[str]()
    for match in _DURATION_PART.finditer(text):
        unit = match.group(2)
        order = list(_DURATION_UNITS)
        if match.start() != pos or (seen and order.index(unit) <= order.index(seen[-1])):
            break
        seen.append(unit)
        total += float(match.group(1)) * _DURATION_UNITS[unit]
        pos = match.end()
    if not seen or text[pos:].strip():
        hint = "use seconds (90) or 30s, 10m, 1h, 1h30m"
        raise SettingValueError(f"invalid duration '{text}': {hint}")
    return total


def strip_comment(value: str) -> str:
    """``value`` without a trailing ``# comment`` (a ``#`` after whitespace, outside quotes).

    A quote opens after a blank or one of ``=[,{:``; jumps from mark to mark (C speed on long lines).
    """
    pos = 0
    while match := _QUOTE_OR_HASH.search(value, pos):
        i = match.start()
        before = value[i - 1] if i else " "
        if value[i] == "#":
            if before in " \t":
                return value[:i]
            pos = i + 1
        elif before in " \t=[,{:":
            close = value.find(value[i], i + 1)
            if close == -1:
                return value  # an unclosed quote runs to the end
            pos = close + 1
        else:
            pos = i + 1
    return value


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            return value[1:-1]
        return loaded if isinstance(loaded, str) else value[1:-1]
    return value


def split_items(raw: str, line: int, col: int) -> list[tuple[str, SourceRange]]:
    """Items of a comma-separated list (or a ``[a, b]`` flow list) with their ranges."""
    inner, offset = raw, col
    if raw.startswith("["):
        if not raw.endswith("]") or len(raw) == 1:
            raise SettingValueError("unclosed '[': write a list as 'a, b' or '[a, b]'")
        inner, offset = raw[1:-1], col + 1
    items: list[tuple[str, SourceRange]] = []
    start = 0
    for part in inner.split(","):
        stripped = part.strip()
        if stripped:
            item_col = offset + start + part.index(stripped)
            rng = SourceRange.on_line(line, item_col, item_col + len(stripped))
            items.append((unquote(stripped), rng))
        start += len(part) + 1
    return items


def coerce_env(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SettingValueError("expected a mapping such as {KEY: value}")
    env: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise SettingValueError(f"env value of '{key}' must be a plain value")
        if isinstance(item, bool):
            env[str(key)] = "true" if item else "false"
        else:
            env[str(key)] = "" if item is None else str(item)
    return env


def coerce_resources(value: object) -> dict[str, float | str]:
    """``resources: {CPU: 2, memory: 4GB}``: names to amounts (what they mean: executor_checks)."""
    if not isinstance(value, dict):
        raise SettingValueError("expected a mapping such as {CPU: 2, memory: 4GB, GPU: 0}")
    found: dict[str, float | str] = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, int | float | str):
            raise SettingValueError(f"resource '{key}' must be a number (memory: a size such as 4GB)")
        found[str(key)] = item
    return found


def coerce_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and not any(isinstance(i, dict | list) for i in value):
        return [str(item) for item in value if item is not None]
    raise SettingValueError("expected a list: 'a, b' or [a, b]")


def coerce_yaml_setting(key: str, value: object) -> object:
    """A front matter (YAML) value of an agent setting, in the shape AgentSettings takes."""
    if value is None and AgentSettings.model_fields[key].default is None:
        return None
    if key in LIST_SETTINGS:
        return coerce_list(value)
    if key == "timeout":
        return parse_duration(value)
    if key == "env":
        return coerce_env(value)
    if key == "resources":
        return coerce_resources(value)
    return value


def check_runner(value: object) -> None:
    if isinstance(value, str) and value not in RUNNER_NAMES:
        names = ", ".join(RUNNER_NAMES)
        hint = did_you_mean(value, list(RUNNER_NAMES))
        raise SettingValueError(f"unknown runner '{value}'{hint}; runners: {names}")


def dedupe(items: list[tuple[str, SourceRange]]) -> dict[str, SourceRange]:
    ranges: dict[str, SourceRange] = {}
    for item, rng in items:
        ranges.setdefault(item, rng)
    return ranges


def validate_model(
    model: type[_Model],
    raw: dict[str, Any],
    ranges: dict[str, SourceRange],
    fallback: SourceRange,
    error: Callable[[SourceRange, str, str], None],
) -> _Model | None:
    """Validate ``raw``; each bad value is reported (``error``) at its range and dropped.

    Returns None only when what is left still fails (a required field missing).
    """
    while True:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            bad: dict[str, str] = {}
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                if key in raw and key not in bad:
                    bad[key] = err["msg"]
            if not bad:
                return None
            for key, msg in bad.items():
                error(ranges.get(key, fallback), "invalid-value", f"invalid value for '{key}': {msg}")
                del raw[key]

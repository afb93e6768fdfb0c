"""Parse a ``*.agents.md`` spec into a `Spec`, with exact source ranges.

The parser never raises: every problem with the text (YAML errors, bad setting
values, malformed headings) becomes a `SpecDiagnostic` in ``spec.diagnostics``.
Checks across agents (unknown keys, unknown signals, cycles, files) live in
`counterpoint.engine.spec_validate`.

Lines are split the way LSP clients split them (``\\r\\n``, ``\\r``, ``\\n``), and
columns count Unicode code points.

Diagnostic codes (stable): yaml-error, front-matter-unclosed,
front-matter-not-mapping, invalid-key, invalid-value, invalid-check,
unknown-runner, duplicate-key, empty-agent-name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from counterpoint_protocol.spec import (
    RUNNER_NAMES,
    AgentSettings,
    AgentSpec,
    CheckSettings,
    CheckSpec,
    Severity,
    SourceRange,
    Spec,
    SpecDiagnostic,
    SpecFrontMatter,
)
from pydantic import BaseModel, ValidationError

AGENT_SETTING_KEYS = frozenset(AgentSettings.model_fields)
FRONT_MATTER_KEYS = frozenset(SpecFrontMatter.model_fields)
CHECK_KEYS = frozenset(CheckSettings.model_fields)
LIST_SETTINGS = frozenset({"needs", "emits"})

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_AGENT_HEADING = re.compile(r"^( {0,3})##(?:[ \t]+(.*?))?[ \t]*$")
_TITLE_HEADING = re.compile(r"^ {0,3}#(?:[ \t]+.*)?$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_SETTING_LINE = re.compile(r"^([ \t]*)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?=[ \t]|$)")
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# PyYAML counts these as line breaks (or, for the BOM, as no column at all),
# LSP clients do not: blank them out so YAML marks stay on our lines and columns.
_YAML_POSITION_SAFE = str.maketrans({"\x85": " ", "\u2028": " ", "\u2029": " ", "\ufeff": " "})

_Model = TypeVar("_Model", bound=BaseModel)


class SettingValueError(ValueError):
    """A setting value that cannot be used; the message is for the user."""


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as an LSP client counts them (always at least one)."""
    return _LINE_BREAK.split(text)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


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


def _strip_comment(value: str) -> str:
    """``value`` without a trailing ``# comment`` (a ``#`` after whitespace, outside quotes)."""
    quote: str | None = None
    for i, ch in enumerate(value):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and (i == 0 or value[i - 1] in " \t=[,{:"):
            quote = ch
        elif ch == "#" and (i == 0 or value[i - 1] in " \t"):
            return value[:i]
    return value


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            return value[1:-1]
        return loaded if isinstance(loaded, str) else value[1:-1]
    return value


def _split_items(raw: str, line: int, col: int) -> list[tuple[str, SourceRange]]:
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
            items.append((_unquote(stripped), rng))
        start += len(part) + 1
    return items


def _coerce_env(value: object) -> dict[str, str]:
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


def _coerce_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and not any(isinstance(i, dict | list) for i in value):
        return [str(item) for item in value if item is not None]
    raise SettingValueError("expected a list: 'a, b' or [a, b]")


def _coerce_yaml_setting(key: str, value: object) -> object:
    """A front matter (YAML) value of an agent setting, in the shape AgentSettings takes."""
    if value is None and AgentSettings.model_fields[key].default is None:
        return None
    if key in LIST_SETTINGS:
        return _coerce_list(value)
    if key == "timeout":
        return parse_duration(value)
    if key == "env":
        return _coerce_env(value)
    return value


def _check_runner(value: object) -> None:
    if isinstance(value, str) and value not in RUNNER_NAMES:
        names = ", ".join(RUNNER_NAMES)
        hint = did_you_mean(value, list(RUNNER_NAMES))
        raise SettingValueError(f"unknown runner '{value}'{hint}; runners: {names}")


def _dedupe(items: list[tuple[str, SourceRange]]) -> dict[str, SourceRange]:
    ranges: dict[str, SourceRange] = {}
    for item, rng in items:
        ranges.setdefault(item, rng)
    return ranges


class _SpecParser:
    """Builds one `Spec`; collects diagnostics instead of raising."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.lines = split_lines(text)
        self.diagnostics: list[SpecDiagnostic] = []
        self.fields: dict[str, Any] = {}
        self.key_ranges: dict[str, SourceRange] = {}
        self.defaults: dict[str, Any] = {}
        self.default_ranges: dict[str, SourceRange] = {}
        self.yaml_line_offset = 1

    # -- helpers ---------------------------------------------------------------

    def report(self, rng: SourceRange, code: str, message: str, severity: Severity) -> None:
        self.diagnostics.append(SpecDiagnostic(range=rng, severity=severity, message=message, code=code))

    def error(self, rng: SourceRange, code: str, message: str) -> None:
        self.report(rng, code, message, Severity.ERROR)

    def line_range(self, line: int) -> SourceRange:
        text = self.lines[line]
        indent = len(text) - len(text.lstrip())
        return SourceRange.on_line(line, indent, max(indent, len(text.rstrip())))

    def position(self, yaml_line: int, col: int) -> tuple[int, int]:
        line = min(yaml_line + self.yaml_line_offset, len(self.lines) - 1)
        return line, max(0, min(col, len(self.lines[line])))

    def node_range(self, node: yaml.Node) -> SourceRange:
        line, col = self.position(node.start_mark.line, node.start_mark.column)
        end_line, end_col = self.position(node.end_mark.line, node.end_mark.column)
        if (end_line, end_col) < (line, col):
            end_line, end_col = line, col
        return SourceRange(line=line, col=col, end_line=end_line, end_col=end_col)

    def value_range(self, key_node: yaml.Node, value_node: yaml.Node) -> SourceRange:
        """The value's range, or the key's when the value is empty (nothing to underline)."""
        rng = self.node_range(value_node)
        empty = (rng.line, rng.col) == (rng.end_line, rng.end_col)
        return self.node_range(key_node) if empty else rng

    def validate(
        self,
        model: type[_Model],
        raw: dict[str, Any],
        ranges: dict[str, SourceRange],
        fallback: SourceRange,
    ) -> _Model | None:
        """Validate ``raw``; each bad value is reported at its range and dropped.

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
                    rng = ranges.get(key, fallback)
                    self.error(rng, "invalid-value", f"invalid value for '{key}': {msg}")
                    del raw[key]

    # -- front matter ------------------------------------------------------------

    def parse_front_matter(self) -> int:
        """Parse the front matter (if any); return the first line of the Markdown body."""
        if self.lines[0].lstrip("\ufeff").rstrip() != "---":
            return 0
        end = next(
            (i for i in range(1, len(self.lines)) if self.lines[i].rstrip() in ("---", "...")),
            None,
        )
        if end is None:
            self.error(
                self.line_range(0),
                "front-matter-unclosed",
                "front matter starts with '---' but has no closing '---' line",
            )
            return 1
        self.fields["front_matter_range"] = SourceRange(
            line=0, col=0, end_line=end, end_col=len(self.lines[end])
        )
        yaml_text = "\n".join(self.lines[1:end]).translate(_YAML_POSITION_SAFE) + "\n"
        root = self.compose(yaml_text)
        if root is None:
            return end + 1
        if not isinstance(root, yaml.MappingNode):
            self.error(
                self.node_range(root),
                "front-matter-not-mapping",
                "front matter must be a mapping of 'key: value' lines",
            )
            return end + 1
        try:
            self.read_front_matter(root)
        except Exception as exc:  # a pathological document must not take the server down
            self.error(self.line_range(0), "yaml-error", f"cannot read the front matter: {exc}")
        return end + 1

    def compose(self, yaml_text: str) -> yaml.Node | None:
        loader: yaml.SafeLoader | None = None
        try:
            loader = yaml.SafeLoader(yaml_text)  # checks the characters already
            return loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = self.position(mark.line, mark.column) if mark else (0, 0)
            end_col = min(col + 1, len(self.lines[line]))
            parts = [p for p in (exc.context, exc.problem) if p]
            message = "invalid YAML: " + ", ".join(parts or [str(exc)])
            self.error(SourceRange.on_line(line, col, end_col), "yaml-error", message)
        except yaml.reader.ReaderError as exc:
            before = yaml_text[: exc.position]
            line, col = self.position(before.count("\n"), exc.position - before.rfind("\n") - 1)
            end_col = min(col + 1, len(self.lines[line]))
            message = f"invalid YAML: unacceptable character ({exc.reason})"
            self.error(SourceRange.on_line(line, col, end_col), "yaml-error", message)
        except Exception as exc:
            self.error(self.line_range(0), "yaml-error", f"invalid YAML: {exc}")
        finally:
            if loader is not None:
                loader.dispose()
        return None

    def construct(self, node: yaml.Node) -> Any:
        try:
            return yaml.constructor.SafeConstructor().construct_document(node)
        except Exception as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise SettingValueError(f"invalid YAML value: {problem}") from exc

    def pairs(self, node: yaml.MappingNode, prefix: str) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping; records key ranges, reports duplicates."""
        try:
            yaml.constructor.SafeConstructor().flatten_mapping(node)
        except Exception as exc:
            self.error(self.node_range(node), "yaml-error", f"invalid YAML merge: {exc}")
            return
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(self.node_range(key_node), "invalid-key", "a key must be a plain name")
                continue
            key = key_node.value
            key_range = self.node_range(key_node)
            if key in seen:
                self.report(
                    key_range,
                    "duplicate-key",
                    f"duplicate key '{key}': the last value is used",
                    Severity.WARNING,
                )
            seen.add(key)
            self.key_ranges[prefix + key] = key_range
            yield key, key_node, value_node

    def read_front_matter(self, root: yaml.MappingNode) -> None:
        simple: dict[str, Any] = {}
        simple_ranges: dict[str, SourceRange] = {}
        for key, key_node, value_node in self.pairs(root, ""):
            try:
                if key == "defaults":
                    self.read_defaults(key_node, value_node)
                elif key == "signals":
                    self.read_signals(value_node)
                elif key == "checks":
                    self.read_checks(value_node)
                elif key in FRONT_MATTER_KEYS:
                    value = self.construct(value_node)
                    if key == "context" and isinstance(value, str):
                        value = _coerce_list(value)
                    simple[key] = value
                    simple_ranges[key] = self.value_range(key_node, value_node)
                elif key in AGENT_SETTING_KEYS:
                    self.read_default(key, key_node, value_node)
            except SettingValueError as exc:
                self.error(self.value_range(key_node, value_node), "invalid-value", str(exc))
        front = self.validate(SpecFrontMatter, simple, simple_ranges, self.line_range(0))
        if front is not None:
            for key in ("feature", "context", "max_parallel", "budget_usd"):
                self.fields[key] = getattr(front, key)

    def read_defaults(self, key_node: yaml.Node, value_node: yaml.Node) -> None:
        if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
            return
        if not isinstance(value_node, yaml.MappingNode):
            raise SettingValueError("'defaults' must be a mapping of agent settings")
        for key, sub_key_node, sub_value_node in self.pairs(value_node, "defaults."):
            if key not in AGENT_SETTING_KEYS:
                continue
            if key in self.defaults:
                self.report(
                    self.node_range(sub_key_node),
                    "duplicate-key",
                    f"'{key}' is also set at the top level; this value is used",
                    Severity.WARNING,
                )
            try:
                self.read_default(key, sub_key_node, sub_value_node)
            except SettingValueError as exc:
                rng = self.value_range(sub_key_node, sub_value_node)
                self.error(rng, "invalid-value", str(exc))

    def read_default(self, key: str, key_node: yaml.Node, value_node: yaml.Node) -> None:
        rng = self.value_range(key_node, value_node)
        value = _coerce_yaml_setting(key, self.construct(value_node))
        if key == "runner":
            try:
                _check_runner(value)
            except SettingValueError as exc:
                self.error(rng, "unknown-runner", str(exc))
                return
        checked = self.validate(AgentSettings, {key: value}, {key: rng}, rng)
        if checked is not None and key in checked.model_fields_set:
            self.defaults[key] = getattr(checked, key)
            self.default_ranges[key] = rng

    def read_signals(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return
        if not isinstance(node, yaml.MappingNode):
            raise SettingValueError("'signals' must map signal names to globs")
        signals: dict[str, list[str]] = {}
        ranges: dict[str, SourceRange] = {}
        glob_ranges: dict[str, dict[str, SourceRange]] = {}
        for name, key_node, value_node in self.pairs(node, "signals."):
            ranges[name] = self.node_range(key_node)
            try:
                globs = self.string_items(value_node)
            except SettingValueError as exc:
                self.error(self.value_range(key_node, value_node), "invalid-value", str(exc))
                continue
            if not globs:
                self.error(
                    self.value_range(key_node, value_node),
                    "invalid-value",
                    f"signal '{name}' needs a glob (or a list of globs)",
                )
                continue
            signals[name] = [glob for glob, _ in globs]
            glob_ranges[name] = _dedupe(globs)
        self.fields.update(signals=signals, signal_ranges=ranges, signal_glob_ranges=glob_ranges)

    def string_items(self, node: yaml.Node) -> list[tuple[str, SourceRange]]:
        """A scalar (one item) or a sequence of scalars, with each item's range."""
        if isinstance(node, yaml.ScalarNode):
            if node.tag.endswith(":null"):
                return []
            return [(node.value, self.node_range(node))]
        if isinstance(node, yaml.SequenceNode):
            items = []
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode):
                    raise SettingValueError("expected a plain value or a list of plain values")
                items.append((item.value, self.node_range(item)))
            return items
        raise SettingValueError("expected a plain value or a list of plain values")

    def list_items(self, node: yaml.Node) -> list[tuple[str, SourceRange]]:
        """Like `string_items`, but a plain one-line scalar may be comma-separated."""
        rng = self.node_range(node)
        if isinstance(node, yaml.ScalarNode) and node.style is None and rng.line == rng.end_line:
            return _split_items(self.lines[rng.line][rng.col : rng.end_col], rng.line, rng.col)
        return self.string_items(node)

    def read_checks(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return
        if not isinstance(node, yaml.SequenceNode):
            raise SettingValueError("'checks' must be a list of checks ('- name: ...')")
        checks: list[CheckSpec] = []
        for index, item in enumerate(node.value):
            start = self.node_range(item)
            decl = SourceRange.on_line(start.line, start.col, self.line_range(start.line).end_col)
            if not isinstance(item, yaml.MappingNode):
                self.error(decl, "invalid-value", "a check must be a mapping with name and run")
                continue
            check = self.read_check(index, item, decl)
            if check is not None:
                checks.append(check)
        self.fields["checks"] = checks

    def read_check(self, index: int, node: yaml.MappingNode, decl: SourceRange) -> CheckSpec | None:
        raw: dict[str, Any] = {}
        ranges: dict[str, SourceRange] = {}
        item_ranges: dict[str, dict[str, SourceRange]] = {}
        for key, key_node, value_node in self.pairs(node, f"checks.{index}."):
            if key not in CHECK_KEYS:
                continue
            ranges[key] = self.value_range(key_node, value_node)
            try:
                if key in ("after", "watch"):
                    items = self.list_items(value_node)
                    raw[key] = [item for item, _ in items]
                    item_ranges[key] = _dedupe(items)
                elif key == "timeout":
                    raw[key] = parse_duration(self.construct(value_node))
                else:
                    raw[key] = self.construct(value_node)
            except SettingValueError as exc:
                self.error(ranges[key], "invalid-value", str(exc))
        settings = self.validate(CheckSettings, raw, ranges, decl)
        if settings is None:
            missing = [key for key in ("name", "run") if key not in raw]
            self.error(decl, "invalid-check", f"a check needs {' and '.join(missing)}")
            return None
        return CheckSpec(settings=settings, range=decl, item_ranges=item_ranges)

    # -- Markdown body -----------------------------------------------------------

    def parse_body(self, start: int) -> None:
        headings: list[tuple[int, re.Match[str]]] = []
        fence: str | None = None
        for line_no in range(start, len(self.lines)):
            line = self.lines[line_no]
            if fence is not None:
                if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                    fence = None
                continue
            opening = _FENCE_OPEN.match(line)
            if opening:
                fence = opening.group(1)
            elif match := _AGENT_HEADING.match(line):
                headings.append((line_no, match))
            elif not headings and "title_range" not in self.fields and _TITLE_HEADING.match(line):
                self.fields["title_range"] = self.line_range(line_no)
        agents = []
        for index, (line_no, match) in enumerate(headings):
            end = headings[index + 1][0] - 1 if index + 1 < len(headings) else len(self.lines) - 1
            agents.append(self.parse_agent(line_no, match, end))
        self.fields["agents"] = agents

    def parse_agent(self, line_no: int, match: re.Match[str], end: int) -> AgentSpec:
        heading_range = self.line_range(line_no)
        name = _CLOSING_HASHES.sub("", match.group(2) or "").rstrip()
        if name:
            name_col = match.start(2)
            name_range = SourceRange.on_line(line_no, name_col, name_col + len(name))
        else:
            name_range = heading_range
            self.error(heading_range, "empty-agent-name", "an agent heading needs a name")
        raw: dict[str, Any] = {}
        setting_ranges: dict[str, SourceRange] = {}
        value_ranges: dict[str, SourceRange] = {}
        item_ranges: dict[str, dict[str, SourceRange]] = {}
        line = line_no + 1
        while line <= end:
            text = self.lines[line]
            setting = _SETTING_LINE.match(text)
            if setting is None and text.strip():
                break
            line += 1
            if setting is None:
                continue
            key = setting.group(2)
            key_col = len(setting.group(1))
            key_range = SourceRange.on_line(line - 1, key_col, key_col + len(key))
            rest = text[setting.end() :]
            value = _strip_comment(rest).strip()
            value_col = setting.end() + (len(rest) - len(rest.lstrip()) if value else 0)
            value_range = SourceRange.on_line(line - 1, value_col, value_col + len(value))
            if key in setting_ranges:
                self.report(
                    key_range,
                    "duplicate-key",
                    f"'{key}' is already set on line {setting_ranges[key].line + 1}; this value is used",
                    Severity.WARNING,
                )
            end_col = max(value_range.end_col, setting.end())
            setting_ranges[key] = SourceRange.on_line(line - 1, key_col, end_col)
            value_ranges[key] = value_range
            if key not in AGENT_SETTING_KEYS:
                continue
            problem_range = value_range if value else setting_ranges[key]
            try:
                raw[key] = self.agent_value(key, value, value_range, item_ranges)
            except SettingValueError as exc:
                code = "unknown-runner" if key == "runner" else "invalid-value"
                self.error(problem_range, code, str(exc))
                raw.pop(key, None)
        merged = {**self.defaults, **raw}
        ranges = {**self.default_ranges, **value_ranges}
        settings = self.validate(AgentSettings, merged, ranges, heading_range)
        task_lines = self.lines[line : end + 1]
        return AgentSpec(
            name=name,
            settings=settings or AgentSettings.model_validate({}),
            task="\n".join(task_lines).strip("\n"),
            heading_range=heading_range,
            name_range=name_range,
            section_end_line=end,
            setting_ranges=setting_ranges,
            value_ranges=value_ranges,
            item_ranges=item_ranges,
        )

    def agent_value(
        self,
        key: str,
        value: str,
        rng: SourceRange,
        item_ranges: dict[str, dict[str, SourceRange]],
    ) -> object:
        """The value of an agent setting line, in the shape AgentSettings takes."""
        if key in LIST_SETTINGS:
            items = _split_items(value, rng.line, rng.col)
            item_ranges[key] = _dedupe(items)
            return list(item_ranges[key])
        if not value:
            if key == "env":
                return {}
            if AgentSettings.model_fields[key].default is None:
                return None
            raise SettingValueError(f"'{key}' needs a value")
        if key == "timeout":
            return parse_duration(_unquote(value))
        if key == "env":
            try:
                loaded = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise SettingValueError("env must be a mapping such as {KEY: value}") from exc
            return _coerce_env(loaded)
        scalar = _unquote(value)
        if key == "runner":
            _check_runner(scalar)
        return scalar

    def build(self) -> Spec:
        body_start = self.parse_front_matter()
        self.parse_body(body_start)
        return Spec(
            path=str(self.path.absolute()),
            text=self.text,
            key_ranges=self.key_ranges,
            diagnostics=sorted(self.diagnostics, key=lambda d: (d.range.line, d.range.col)),
            **self.fields,
        )


def parse_spec(text: str, path: Path) -> Spec:
    """Parse a spec's text; never raises: problems are in ``spec.diagnostics``."""
    return _SpecParser(text, path).build()

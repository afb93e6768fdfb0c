"""Parse a ``*.agents.md`` spec into a `Spec`, with exact source ranges.

The parser never raises: every problem with the text (YAML errors, bad setting
values, malformed headings) becomes a `SpecDiagnostic` in ``spec.diagnostics``.
Checks across agents (unknown keys, unknown signals, cycles, files) live in
`counterpoint.engine.spec.validate`.

This module reads the Markdown body (the ``## agent`` sections) and builds the
`Spec`; the front matter is read by a `FrontMatterParser` the parser owns
(`counterpoint.engine.spec.front_matter`, which also collects the diagnostics) and
plain values in `counterpoint.engine.spec.values` (its public names are
re-exported here).

Lines are split the way LSP clients split them (``\\r\\n``, ``\\r``, ``\\n``), and
columns count Unicode code points.

Diagnostic codes (stable): yaml-error, front-matter-unclosed,
front-matter-not-mapping, invalid-key, invalid-value, invalid-check,
unknown-runner, duplicate-key, empty-agent-name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from counterpoint_protocol.spec import AgentSettings, AgentSpec, Severity, SourceRange, Spec

from counterpoint.engine.spec.front_matter import FrontMatterParser
from counterpoint.engine.spec.gc_pause import cyclic_gc_paused
from counterpoint.engine.spec.values import (
    AGENT_SETTING_KEYS,
    CHECK_KEYS,
    FRONT_MATTER_KEYS,
    LIST_SETTINGS,
    SettingValueError,
    check_runner,
    coerce_env,
    coerce_resources,
    dedupe,
    did_you_mean,
    parse_duration,
    split_items,
    split_lines,
    strip_comment,
    unquote,
    validate_model,
)

__all__ = [
    "AGENT_SETTING_KEYS",
    "CHECK_KEYS",
    "FRONT_MATTER_KEYS",
    "LIST_SETTINGS",
    "SettingValueError",
    "did_you_mean",
    "parse_duration",
    "parse_spec",
    "split_lines",
]

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_AGENT_HEADING = re.compile(r" {0,3}##(?=[ \t]|$)")
_TITLE_HEADING = re.compile(r"^ {0,3}#(?:[ \t]+.*)?$")
_SETTING_LINE = re.compile(r"^([ \t]*)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?=[ \t]|$)")


def _agent_heading(line: str) -> tuple[str, int] | None:
    """``(text, column)`` of an ``## agent`` heading's text (blanks around it left out), or None.

    Plain string operations, not a regex with two blank runs around a lazy group:
    that one backtracks quadratically over a long run of blanks.
    """
    match = _AGENT_HEADING.match(line)
    if match is None:
        return None
    rest = line[match.end() :]
    col = match.end() + len(rest) - len(rest.lstrip(" \t"))
    return line[col:].rstrip(" \t"), col


def _without_closing_hashes(text: str) -> str:
    """``text`` without a closing run of ``#`` (the whole text, or after a blank) and its blanks."""
    bare = text.rstrip("#")
    if bare == text or (bare and bare[-1] not in " \t"):
        return text
    return bare.rstrip(" \t")


class _SpecParser:
    """Builds one `Spec`: the front matter, read by the `FrontMatterParser` it owns (which holds
    the lines, the fields read so far and the diagnostics), then the agent sections."""

    def __init__(self, text: str, path: Path) -> None:
        self.front = FrontMatterParser(text, path)
        self.lines = self.front.lines

    # -- Markdown body -----------------------------------------------------------

    def parse_body(self, start: int) -> None:
        headings: list[tuple[int, tuple[str, int]]] = []
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
            elif heading := _agent_heading(line):
                headings.append((line_no, heading))
            elif not headings and "title_range" not in self.front.fields and _TITLE_HEADING.match(line):
                self.front.fields["title_range"] = self.front.line_range(line_no)
        agents = []
        for index, (line_no, heading) in enumerate(headings):
            end = headings[index + 1][0] - 1 if index + 1 < len(headings) else len(self.lines) - 1
            agents.append(self.parse_agent(line_no, heading, end))
        self.front.fields["agents"] = agents

    def parse_agent(self, line_no: int, heading: tuple[str, int], end: int) -> AgentSpec:
        heading_range = self.front.line_range(line_no)
        text, name_col = heading
        name = _without_closing_hashes(text).rstrip()
        if name:
            name_range = SourceRange.on_line(line_no, name_col, name_col + len(name))
        else:
            name_range = heading_range
            self.front.error(heading_range, "empty-agent-name", "an agent heading needs a name")
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
            rest = text[setting.end() :]
            value = strip_comment(rest).strip()
            value_col = setting.end() + (len(rest) - len(rest.lstrip()) if value else 0)
            value_range = SourceRange.on_line(line - 1, value_col, value_col + len(value))
            if key in setting_ranges:
                self.front.report(
                    SourceRange.on_line(line - 1, key_col, key_col + len(key)),
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
                self.front.error(problem_range, code, str(exc))
                raw.pop(key, None)
        merged = {**self.front.defaults, **raw}
        ranges = {**self.front.default_ranges, **value_ranges}
        settings = validate_model(AgentSettings, merged, ranges, heading_range, self.front.error)
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
            items = split_items(value, rng.line, rng.col)
            item_ranges[key] = dedupe(items)
            return list(item_ranges[key])
        if not value:
            if key in ("env", "resources"):
                return {}
            if AgentSettings.model_fields[key].default is None:
                return None
            raise SettingValueError(f"'{key}' needs a value")
        if key == "timeout":
            return parse_duration(unquote(value))
        if key == "env":
            try:
                loaded = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise SettingValueError("env must be a mapping such as {KEY: value}") from exc
            return coerce_env(loaded)
        if key == "resources":
            try:
                return coerce_resources(yaml.safe_load(value))
            except yaml.YAMLError as exc:
                raise SettingValueError("resources must be a mapping such as {CPU: 2, memory: 4GB}") from exc
        scalar = unquote(value)
        if key == "runner":
            check_runner(scalar)
        return scalar

    def build(self) -> Spec:
        body_start = self.front.parse_front_matter()
        self.parse_body(body_start)
        return Spec(
            path=str(self.front.path.absolute()),
            text=self.front.text,
            key_ranges=self.front.key_ranges,
            diagnostics=sorted(self.front.diagnostics, key=lambda d: (d.range.line, d.range.col)),
            **self.front.fields,
        )


def parse_spec(text: str, path: Path) -> Spec:
    """Parse a spec's text; never raises: problems are in ``spec.diagnostics``."""
    with cyclic_gc_paused():
        return _SpecParser(text, path).build()

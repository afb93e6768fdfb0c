"""The front matter of a spec: the YAML block between ``---`` lines, with ranges.

`FrontMatterParser` holds the state of one parse and the helpers every part
uses (reporting, ranges, model validation); it reads ``defaults``, ``signals``,
``checks`` and the other front matter keys. The Markdown body (agent sections)
is parsed in `counterpoint.engine.spec.parser`, by a parser that owns one of these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from counterpoint_protocol.spec import (
    AgentSettings,
    CheckSettings,
    CheckSpec,
    Severity,
    SourceRange,
    SpecDiagnostic,
    SpecFrontMatter,
)

from counterpoint.engine.spec.values import (
    AGENT_SETTING_KEYS,
    CHECK_KEYS,
    FRONT_MATTER_KEYS,
    SettingValueError,
    check_runner,
    coerce_list,
    coerce_yaml_setting,
    dedupe,
    parse_duration,
    split_items,
    split_lines,
    validate_model,
)

# PyYAML counts these as line breaks (or, for the BOM, as no column at all),
# LSP clients do not: blank them out so YAML marks stay on our lines and columns.
_YAML_POSITION_SAFE = str.maketrans({"\x85": " ", "\u2028": " ", "\u2029": " ", "\ufeff": " "})

_PYYAML_STRICTER = re.compile(r"[\t!?%@`]|[|>][-+0-9]*#")
_LIBYAML: bool = yaml.__with_libyaml__
"""Compose with libyaml (`compose`); tests turn it off to compare with the pure loader."""


def _plain_items(items: list[Any]) -> bool:
    return not any(isinstance(item, dict | list) for item in items)


def _libyaml_agrees(yaml_text: str) -> bool:
    """Whether libyaml surely reads ``yaml_text`` as PyYAML does: not where PyYAML is stricter
    (tab, tag ``!``, ``?`` in a flow list, ``#`` after ``|``/``>``; property tests) or may be."""
    return _PYYAML_STRICTER.search(yaml_text) is None


def string_items(
    node: yaml.Node, node_range: Callable[[yaml.Node], SourceRange]
) -> list[tuple[str, SourceRange]]:
    """A scalar (one item) or a sequence of scalars, with each item's range."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith(":null"):
            return []
        return [(node.value, node_range(node))]
    if isinstance(node, yaml.SequenceNode):
        items = []
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode):
                raise SettingValueError("expected a plain value or a list of plain values")
            items.append((item.value, node_range(item)))
        return items
    raise SettingValueError("expected a plain value or a list of plain values")


class FrontMatterParser:
    """The state of one spec parse, its helpers and the front matter; collects diagnostics."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.lines = split_lines(text)
        self.diagnostics: list[SpecDiagnostic] = []
        self.fields: dict[str, Any] = {}
        self.key_ranges: dict[str, SourceRange] = {}
        self.value_ranges: dict[str, SourceRange] = {}
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
        """The front matter's YAML tree, or None (an error is reported).

        libyaml (20x faster) composes a text `_libyaml_agrees` lets through, with the
        pure loader's tree and marks (test_spec_yaml_loader.py); the pure loader composes
        the rest, and what libyaml refuses, to say what is wrong in its own words.
        """
        if _LIBYAML and _libyaml_agrees(yaml_text):
            fast: yaml.CSafeLoader | None = None
            try:
                fast = yaml.CSafeLoader(yaml_text)
                return fast.get_single_node()
            except Exception:  # the pure loader below reports the problem
                pass
            finally:
                if fast is not None:
                    fast.dispose()
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
            self.value_ranges[prefix + key] = self.value_range(key_node, value_node)
            yield key, key_node, value_node

    def read_front_matter(self, root: yaml.MappingNode) -> None:
        simple: dict[str, Any] = {}
        simple_ranges: dict[str, SourceRange] = {}
        self.fields["value_ranges"] = self.value_ranges
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
                        value = coerce_list(value)
                    if key == "context" and isinstance(value, list) and _plain_items(value):
                        self.fields["context_ranges"] = dedupe(self.list_items(value_node))
                    simple[key] = value
                    simple_ranges[key] = self.value_range(key_node, value_node)
                elif key in AGENT_SETTING_KEYS:
                    self.read_default(key, key_node, value_node)
            except SettingValueError as exc:
                self.error(self.value_range(key_node, value_node), "invalid-value", str(exc))
        front = validate_model(SpecFrontMatter, simple, simple_ranges, self.line_range(0), self.error)
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
        value = coerce_yaml_setting(key, self.construct(value_node))
        if key == "runner":
            try:
                check_runner(value)
            except SettingValueError as exc:
                self.error(rng, "unknown-runner", str(exc))
                return
        checked = validate_model(AgentSettings, {key: value}, {key: rng}, rng, self.error)
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
                globs = string_items(value_node, self.node_range)
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
            glob_ranges[name] = dedupe(globs)
        self.fields.update(signals=signals, signal_ranges=ranges, signal_glob_ranges=glob_ranges)

    def list_items(self, node: yaml.Node) -> list[tuple[str, SourceRange]]:
        """Like `string_items`, but a plain one-line scalar may be comma-separated."""
        rng = self.node_range(node)
        plain = isinstance(node, yaml.ScalarNode) and not node.style  # None, or '' from libyaml
        if plain and rng.line == rng.end_line:
            return split_items(self.lines[rng.line][rng.col : rng.end_col], rng.line, rng.col)
        return string_items(node, self.node_range)

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
                    item_ranges[key] = dedupe(items)
                elif key == "timeout":
                    raw[key] = parse_duration(self.construct(value_node))
                else:
                    raw[key] = self.construct(value_node)
            except SettingValueError as exc:
                self.error(ranges[key], "invalid-value", str(exc))
        settings = validate_model(CheckSettings, raw, ranges, decl, self.error)
        if settings is None:
            missing = [key for key in ("name", "run") if key not in raw]
            self.error(decl, "invalid-check", f"a check needs {' and '.join(missing)}")
            return None
        return CheckSpec(settings=settings, range=decl, item_ranges=item_ranges, value_ranges=ranges)

"""Validate a parsed spec: the findings ``counterpoint check`` prints and editors show.

`load_spec` parses and validates in one go; `validate_spec` runs the checks
across agents on a parsed `Spec`; `agent_dependencies` is the dependency graph
the scheduler and the code lenses use; `format_cli` renders one finding as
``path:line:col: severity: message [code]``.

This module holds the entry points and the checks of keys, names, needs,
signals and checks; the graph and its cycles live in
`counterpoint.engine.spec.graph`, the runner and file checks in
`counterpoint.engine.spec.runner_checks`, the paths and transcripts in
`counterpoint.engine.spec.path_checks`. Agent, signal, check and role names
follow `counterpoint_protocol.spec.NAME_PATTERN` (they become file names).

Diagnostic codes (stable; the parser's are listed in its module):
unknown-key, duplicate-agent, invalid-agent-name, invalid-signal-name,
invalid-check-name, invalid-role-name, unknown-signal, self-dependency,
dependency-cycle, missing-transcript, missing-command, unknown-preset,
transcript-not-found, invalid-transcript, path-outside-workspace, invalid-format,
command-not-found, program-not-found, invalid-command, bad-glob, duplicate-check,
multiple-integrators, unused-signal, signal-shadows-agent, no-agents.
"""

from __future__ import annotations

import re
from pathlib import Path

from counterpoint_protocol.spec import AgentSpec, Severity, SourceRange, Spec, SpecDiagnostic

from counterpoint.engine.spec.executor_checks import check_executor
from counterpoint.engine.spec.gc_pause import cyclic_gc_paused
from counterpoint.engine.spec.graph import agent_dependencies, dependency_cycles, signal_emitters
from counterpoint.engine.spec.parser import parse_spec
from counterpoint.engine.spec.path_checks import PathChecks
from counterpoint.engine.spec.runner_checks import RunnerChecks, SpecFindings
from counterpoint.engine.spec.values import (
    AGENT_SETTING_KEYS,
    CHECK_KEYS,
    FRONT_MATTER_KEYS,
    Speller,
    did_you_mean,
)
from counterpoint.engine.workspace import name_problem

__all__ = ["agent_dependencies", "format_cli", "glob_problem", "load_spec", "validate_spec"]

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2, Severity.HINT: 3}
_CLI_LABELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def validate_spec(spec: Spec, *, check_files: bool = True) -> list[SpecDiagnostic]:
    """Findings across the parsed spec (not including the parser's own diagnostics).

    With ``check_files`` the transcript and command files are looked up on disk
    and bare programs on PATH: blocking I/O, so call it in a thread from async code.
    """
    with cyclic_gc_paused():  # acyclic data: see gc_pause
        validator = _Validator(spec, check_files=check_files)
        validator.run()
        unique = {(d.range, d.code, d.message): d for d in validator.findings.diagnostics}
        return sorted(unique.values(), key=_position_key)


def load_spec(text: str, path: Path, *, check_files: bool = True) -> Spec:
    """Parse and validate; every finding, sorted by position, is in ``spec.diagnostics``."""
    with cyclic_gc_paused():
        spec = parse_spec(text, path)
        spec.diagnostics = sorted(
            [*spec.diagnostics, *validate_spec(spec, check_files=check_files)], key=_position_key
        )
        return spec


def format_cli(diag: SpecDiagnostic, display_path: str) -> str:
    """``path:line:col: error|warning|note: message [code]`` with 1-based line and column."""
    label = _CLI_LABELS.get(diag.severity, "note")
    line, col = diag.range.line + 1, diag.range.col + 1
    return f"{display_path}:{line}:{col}: {label}: {diag.message} [{diag.code}]"


def glob_problem(glob: str) -> str | None:
    """Why ``glob`` cannot be a workspace glob relative to the spec, or None if it can."""
    if not glob.strip():
        return "empty glob"
    if glob.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:[\\/]", glob):
        return f"glob '{glob}' is an absolute path: make it relative to the spec's folder"
    depth = 0
    for part in re.split(r"[\\/]+", glob):
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"glob '{glob}' leaves the spec's folder ('..')"
        elif part not in ("", "."):
            depth += 1
    pos = glob.find("[")
    while pos != -1:
        start = pos + 1
        if glob[start : start + 1] == "!":
            start += 1
        if glob[start : start + 1] == "]":
            start += 1
        close = glob.find("]", start)
        if close == -1:
            return f"glob '{glob}' has an unbalanced '['"
        pos = glob.find("[", close + 1)
    return None


def _position_key(diag: SpecDiagnostic) -> tuple[int, int, int, int, int, str]:
    r = diag.range
    return (r.line, r.col, r.end_line, r.end_col, _SEVERITY_ORDER[diag.severity], diag.code)


def _key_range(setting_range: SourceRange, key: str) -> SourceRange:
    return SourceRange.on_line(setting_range.line, setting_range.col, setting_range.col + len(key))


class _Validator:
    """Runs every check across one parsed spec: owns the findings, the path checks and the
    runner checks that report to them, and checks keys, names, needs, signals and checks."""

    def __init__(self, spec: Spec, *, check_files: bool) -> None:
        self.spec = spec
        self.findings = SpecFindings(spec, check_files=check_files)
        self.paths = PathChecks(self.findings)
        self.runners = RunnerChecks(self.findings, self.paths.check_transcript)
        self.names = {agent.name for agent in spec.agents if agent.name}
        self.emitters = signal_emitters(spec)
        self.known_signals = self.names | set(self.emitters) | set(spec.signals)
        self.speller = Speller(self.known_signals)

    def run(self) -> None:
        if not self.spec.agents:
            first_line = self.spec.text.split("\n", 1)[0].split("\r", 1)[0]
            self.findings.report(
                SourceRange.on_line(0, 0, len(first_line)),
                "no-agents",
                "the spec has no agents: add a '## <agent-name>' section",
                Severity.WARNING,
            )
        self.check_front_matter_keys()
        self.check_agent_names()
        self.check_names()
        self.paths.check_paths()
        for agent in self.spec.agents:
            self.check_agent_keys(agent)
            self.check_needs(agent)
            self.runners.check_runner(agent)
            check_executor(self.findings, agent)
        self.check_cycles()
        self.check_signals()
        self.check_checks()
        self.check_integrators()
        self.check_unused_emits()

    # -- keys and names ------------------------------------------------------------

    def check_front_matter_keys(self) -> None:
        for path, rng in self.spec.key_ranges.items():
            head, _, rest = path.partition(".")
            if head == "signals" and rest:
                continue
            if head == "defaults" and rest:
                key, known, where = rest, AGENT_SETTING_KEYS, "agent setting {} under 'defaults'"
            elif head == "checks" and rest:
                key, known, where = rest.partition(".")[2], CHECK_KEYS, "check setting {}"
            else:
                key, known, where = (
                    path,
                    FRONT_MATTER_KEYS | AGENT_SETTING_KEYS,
                    "front matter key {}",
                )
            if key not in known:
                hint = did_you_mean(key, known)
                self.findings.error(rng, "unknown-key", f"unknown {where.format(repr(key))}{hint}")

    def check_agent_keys(self, agent: AgentSpec) -> None:
        for key, rng in agent.setting_ranges.items():
            if key in AGENT_SETTING_KEYS:
                continue
            hint = did_you_mean(key, AGENT_SETTING_KEYS)
            if not hint:
                hint = "; a task line that looks like 'key: value' must follow a line of task text"
            self.findings.error(_key_range(rng, key), "unknown-key", f"unknown agent setting '{key}'{hint}")

    def check_agent_names(self) -> None:
        first_lines: dict[str, int] = {}
        for agent in self.spec.agents:
            if not agent.name:
                continue
            if agent.name in first_lines:
                self.findings.error(
                    agent.heading_range,
                    "duplicate-agent",
                    f"duplicate agent name '{agent.name}' "
                    f"(first defined on line {first_lines[agent.name] + 1})",
                )
                continue
            first_lines[agent.name] = agent.heading_range.line
            problem = name_problem(agent.name)
            if problem is not None:
                self.findings.error(agent.name_range, "invalid-agent-name", f"agent name {problem}")

    def check_names(self) -> None:
        """Signal, check and role names follow the name grammar too."""
        for signal, rng in self.spec.signal_ranges.items():
            if (problem := name_problem(signal)) is not None:
                self.findings.error(rng, "invalid-signal-name", f"signal name {problem}")
        for agent in self.spec.agents:
            for signal in agent.settings.emits:
                if (problem := name_problem(signal)) is not None:
                    rng = self.findings.item_range(agent, "emits", signal)
                    self.findings.error(rng, "invalid-signal-name", f"signal name {problem}")
            role = agent.settings.role
            if role is not None and (problem := name_problem(role)) is not None:
                self.findings.error(
                    self.paths.value_range(agent, "role"), "invalid-role-name", f"role name {problem}"
                )
        for check in self.spec.checks:
            if (problem := name_problem(check.settings.name)) is not None:
                rng = check.value_ranges.get("name", check.range)
                self.findings.error(rng, "invalid-check-name", f"check name {problem}")

    # -- needs and cycles ------------------------------------------------------------

    def check_needs(self, agent: AgentSpec) -> None:
        for need in agent.settings.needs:
            rng = self.findings.item_range(agent, "needs", need)
            if need == agent.name:
                self.findings.error(rng, "self-dependency", f"agent '{agent.name}' needs itself")
            elif need not in self.known_signals:
                hint = self.speller.hint(need)
                self.findings.error(
                    rng,
                    "unknown-signal",
                    f"nothing fires '{need}': no agent emits it, no glob in 'signals' "
                    f"fires it and no agent has that name{hint}",
                )

    def check_cycles(self) -> None:
        for agent, need, code, message in dependency_cycles(self.spec):
            self.findings.error(self.findings.item_range(agent, "needs", need), code, message)

    # -- signals and checks ------------------------------------------------------------

    def check_signals(self) -> None:
        for signal, globs in self.spec.signal_glob_ranges.items():
            for glob, rng in globs.items():
                problem = glob_problem(glob)
                if problem:
                    self.findings.error(rng, "bad-glob", problem)
            if signal in self.names and signal in self.spec.signal_ranges:
                self.findings.report(
                    self.spec.signal_ranges[signal],
                    "signal-shadows-agent",
                    f"signal '{signal}' has an agent's name: needing it waits for either",
                    Severity.WARNING,
                )

    def check_checks(self) -> None:
        seen: set[str] = set()
        for check in self.spec.checks:
            name = check.settings.name
            if name in seen:
                self.findings.report(
                    check.range,
                    "duplicate-check",
                    f"duplicate check name '{name}'",
                    Severity.WARNING,
                )
            seen.add(name)
            for glob, rng in check.item_ranges.get("watch", {}).items():
                problem = glob_problem(glob)
                if problem:
                    self.findings.error(rng, "bad-glob", problem)
            after_ranges = check.item_ranges.get("after", {})
            for signal in check.settings.after:
                if signal not in self.known_signals:
                    hint = self.speller.hint(signal)
                    self.findings.error(
                        after_ranges.get(signal, check.range),
                        "unknown-signal",
                        f"check '{name}' runs after '{signal}', which nothing fires{hint}",
                    )

    def check_integrators(self) -> None:
        integrators = [agent for agent in self.spec.agents if agent.settings.integrate]
        for agent in integrators[1:]:
            self.findings.report(
                self.findings.setting_range(agent, "integrate"),
                "multiple-integrators",
                f"more than one agent has 'integrate: true' (also '{integrators[0].name}')",
                Severity.WARNING,
            )

    def check_unused_emits(self) -> None:
        needed = {need for agent in self.spec.agents for need in agent.settings.needs}
        needed |= {signal for check in self.spec.checks for signal in check.settings.after}
        for agent in self.spec.agents:
            for signal in agent.settings.emits:
                if signal not in needed:
                    self.findings.report(
                        self.findings.item_range(agent, "emits", signal),
                        "unused-signal",
                        f"'{signal}' is emitted, but no agent needs it and no check runs after it",
                        Severity.HINT,
                    )

"""Validate a parsed spec: the findings ``counterpoint check`` prints and editors show.

`load_spec` parses and validates in one go; `validate_spec` runs the checks
across agents on a parsed `Spec`; `agent_dependencies` is the dependency graph
the scheduler and the code lenses use; `format_cli` renders one finding as
``path:line:col: severity: message [code]``.

Diagnostic codes (stable; the parser's are listed in its module):
unknown-key, duplicate-agent, invalid-agent-name, unknown-signal, self-dependency,
dependency-cycle, missing-transcript, missing-command, unknown-preset,
transcript-not-found, command-not-found, program-not-found, invalid-command,
bad-glob, duplicate-check, multiple-integrators, unused-signal,
signal-shadows-agent, no-agents.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections import deque
from pathlib import Path

from counterpoint_protocol.spec import (
    COMMAND_PRESETS,
    AgentSpec,
    Severity,
    SourceRange,
    Spec,
    SpecDiagnostic,
)

from counterpoint.engine.spec_parser import (
    AGENT_SETTING_KEYS,
    CHECK_KEYS,
    FRONT_MATTER_KEYS,
    did_you_mean,
    parse_spec,
)

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2, Severity.HINT: 3}
_CLI_LABELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}
_ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
_SHELL_WORDS = frozenset(
    {"!", ".", ":", "[", "[[", "case", "cd", "command", "eval", "exec", "export"}
    | {"for", "if", "set", "source", "test", "time", "while", "{", "("}
)


def agent_dependencies(spec: Spec) -> dict[str, set[str]]:
    """Agent name -> the agents it directly depends on.

    Needing an agent's name depends on that agent; needing a signal depends on
    every agent that emits it, unless the signal has a glob in ``signals`` (a
    file can fire it, so no agent has to run first). A duplicate agent name
    counts once, with its first section.
    """
    names = {agent.name for agent in spec.agents if agent.name}
    emitters = _emitters(spec)
    dependencies: dict[str, set[str]] = {}
    for agent in spec.agents:
        if agent.name and agent.name not in dependencies:
            targets: set[str] = set()
            for need in agent.settings.needs:
                targets |= _need_targets(spec, need, names, emitters)
            dependencies[agent.name] = targets
    return dependencies


def validate_spec(spec: Spec, *, check_files: bool = True) -> list[SpecDiagnostic]:
    """Findings across the parsed spec (not including the parser's own diagnostics).

    With ``check_files`` the transcript and command files are looked up on disk
    and bare programs on PATH: blocking I/O, so call it in a thread from async code.
    """
    validator = _Validator(spec, check_files=check_files)
    validator.run()
    unique = {(d.range, d.code, d.message): d for d in validator.diagnostics}
    return sorted(unique.values(), key=_position_key)


def load_spec(text: str, path: Path, *, check_files: bool = True) -> Spec:
    """Parse and validate; every finding, sorted by position, is in ``spec.diagnostics``."""
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


def _emitters(spec: Spec) -> dict[str, set[str]]:
    emitters: dict[str, set[str]] = {}
    for agent in spec.agents:
        for signal in agent.settings.emits:
            emitters.setdefault(signal, set()).add(agent.name)
    return emitters


def _need_targets(spec: Spec, need: str, names: set[str], emitters: dict[str, set[str]]) -> set[str]:
    targets = {need} if need in names else set()
    if need not in spec.signals:
        targets |= emitters.get(need, set())
    return targets


def _key_range(setting_range: SourceRange, key: str) -> SourceRange:
    return SourceRange.on_line(setting_range.line, setting_range.col, setting_range.col + len(key))


class _Validator:
    def __init__(self, spec: Spec, *, check_files: bool) -> None:
        self.spec = spec
        self.check_files = check_files
        self.folder = Path(spec.path).parent
        self.diagnostics: list[SpecDiagnostic] = []
        self.names = {agent.name for agent in spec.agents if agent.name}
        self.emitters = _emitters(spec)
        self.firsts = {agent.name: agent for agent in reversed(spec.agents)}
        self.known_signals = self.names | set(self.emitters) | set(spec.signals)
        self.programs: dict[str, str | None] = {}

    def report(self, rng: SourceRange, code: str, message: str, severity: Severity) -> None:
        self.diagnostics.append(SpecDiagnostic(range=rng, severity=severity, message=message, code=code))

    def error(self, rng: SourceRange, code: str, message: str) -> None:
        self.report(rng, code, message, Severity.ERROR)

    def run(self) -> None:
        if not self.spec.agents:
            first_line = self.spec.text.split("\n", 1)[0].split("\r", 1)[0]
            self.report(
                SourceRange.on_line(0, 0, len(first_line)),
                "no-agents",
                "the spec has no agents: add a '## <agent-name>' section",
                Severity.WARNING,
            )
        self.check_front_matter_keys()
        self.check_agent_names()
        for agent in self.spec.agents:
            self.check_agent_keys(agent)
            self.check_needs(agent)
            self.check_runner(agent)
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
                self.error(rng, "unknown-key", f"unknown {where.format(repr(key))}{hint}")

    def check_agent_keys(self, agent: AgentSpec) -> None:
        for key, rng in agent.setting_ranges.items():
            if key in AGENT_SETTING_KEYS:
                continue
            hint = did_you_mean(key, AGENT_SETTING_KEYS)
            if not hint:
                hint = "; a task line that looks like 'key: value' must follow a line of task text"
            self.error(_key_range(rng, key), "unknown-key", f"unknown agent setting '{key}'{hint}")

    def check_agent_names(self) -> None:
        first_lines: dict[str, int] = {}
        for agent in self.spec.agents:
            if not agent.name:
                continue
            if agent.name in first_lines:
                self.error(
                    agent.heading_range,
                    "duplicate-agent",
                    f"duplicate agent name '{agent.name}' "
                    f"(first defined on line {first_lines[agent.name] + 1})",
                )
                continue
            first_lines[agent.name] = agent.heading_range.line
            if "," in agent.name or " #" in agent.name or agent.name[0] in "[\"'":
                self.report(
                    agent.name_range,
                    "invalid-agent-name",
                    f"'needs' cannot name agent '{agent.name}': avoid commas, ' #' "
                    "and a leading bracket or quote",
                    Severity.WARNING,
                )

    # -- needs and cycles ------------------------------------------------------------

    def item_range(self, agent: AgentSpec, key: str, item: str) -> SourceRange:
        items = agent.item_ranges.get(key, {})
        if item in items:
            return items[item]
        return self.setting_range(agent, key)

    def setting_range(self, agent: AgentSpec, key: str) -> SourceRange:
        """Where an agent's setting is written: its own line, else the front matter default."""
        if key in agent.value_ranges:
            return agent.value_ranges[key]
        for path in (f"defaults.{key}", key):
            if path in self.spec.key_ranges:
                return self.spec.key_ranges[path]
        return agent.heading_range

    def check_needs(self, agent: AgentSpec) -> None:
        for need in agent.settings.needs:
            rng = self.item_range(agent, "needs", need)
            if need == agent.name:
                self.error(rng, "self-dependency", f"agent '{agent.name}' needs itself")
            elif need not in self.known_signals:
                hint = did_you_mean(need, self.known_signals)
                self.error(
                    rng,
                    "unknown-signal",
                    f"nothing fires '{need}': no agent emits it, no glob in 'signals' "
                    f"fires it and no agent has that name{hint}",
                )

    def check_cycles(self) -> None:
        graph = agent_dependencies(self.spec)
        component = _components(graph)
        for name, agent in self.firsts.items():
            for need in agent.settings.needs:
                if need == name:
                    continue  # reported as self-dependency
                targets = _need_targets(self.spec, need, self.names, self.emitters)
                rng = self.item_range(agent, "needs", need)
                if name in targets:
                    self.error(
                        rng,
                        "self-dependency",
                        f"agent '{name}' needs '{need}', which it emits itself "
                        f"(dependency cycle: {name} -> {name})",
                    )
                    continue
                for target in sorted(targets):
                    if component.get(target) != component[name]:
                        continue
                    path = _path(graph, target, name)
                    if path is not None:
                        cycle = " -> ".join([name, *path])
                        self.error(rng, "dependency-cycle", f"dependency cycle: {cycle}")
                        break

    # -- runners and files ------------------------------------------------------------

    def runner_unknown(self, agent: AgentSpec) -> bool:
        """Whether the runner this agent got was written wrong (so it fell back to a default)."""
        if "runner" in agent.value_ranges:
            first, last = agent.heading_range.line, agent.section_end_line
        elif self.spec.front_matter_range is not None:
            first, last = 0, self.spec.front_matter_range.end_line
        else:
            return False
        return any(
            diag.code == "unknown-runner" and first <= diag.range.line <= last
            for diag in self.spec.diagnostics
        )

    def check_runner(self, agent: AgentSpec) -> None:
        settings = agent.settings
        if self.runner_unknown(agent):
            return
        if settings.runner == "replay" and not settings.transcript:
            self.error(
                agent.heading_range,
                "missing-transcript",
                f"agent '{agent.name}' uses the replay runner but has no transcript: "
                "set 'transcript:' or another 'runner:'",
            )
        if settings.runner == "command" and not settings.command and not settings.preset:
            self.error(
                agent.heading_range,
                "missing-command",
                f"agent '{agent.name}' uses the command runner but has no 'command:' or 'preset:'",
            )
        if settings.runner == "acp" and not settings.command:
            self.error(
                agent.heading_range,
                "missing-command",
                f"agent '{agent.name}' uses the acp runner but has no 'command:'",
            )
        preset = settings.preset
        if settings.runner == "command" and preset is not None and preset not in COMMAND_PRESETS:
            hint = did_you_mean(preset, COMMAND_PRESETS)
            self.error(
                self.setting_range(agent, "preset"),
                "unknown-preset",
                f"unknown preset '{preset}'{hint}; presets: " + ", ".join(COMMAND_PRESETS),
            )
        if not self.check_files:
            return
        if settings.runner == "replay" and settings.transcript:
            self.check_transcript(agent, settings.transcript)
        if settings.runner in ("command", "acp") and settings.command:
            self.check_command(agent, settings.command)

    def check_transcript(self, agent: AgentSpec, transcript: str) -> None:
        if not (self.folder / transcript).is_file():
            self.error(
                self.setting_range(agent, "transcript"),
                "transcript-not-found",
                f"transcript '{transcript}' not found (relative to {self.folder})",
            )

    def check_command(self, agent: AgentSpec, command: str) -> None:
        rng = self.setting_range(agent, "command")
        try:
            words = shlex.split(command)
        except ValueError as exc:
            self.error(rng, "invalid-command", f"cannot parse the command: {exc}")
            return
        index = next((i for i, w in enumerate(words) if not _ENV_ASSIGNMENT.fullmatch(w)), None)
        if index is None:
            return
        program = words[index]
        if "command" in agent.value_ranges:
            raw_words = list(re.finditer(r"\S+", command))
            if index < len(raw_words):
                word = raw_words[index]
                rng = SourceRange.on_line(rng.line, rng.col + word.start(), rng.col + word.end())
        if program in _SHELL_WORDS or "$" in program or "`" in program:
            return
        if "/" in program or "\\" in program:
            bases = [self.folder]
            if agent.settings.cwd:
                bases.append(self.folder / agent.settings.cwd)
            candidates = [base / program for base in bases]
            if not any(path.is_file() for path in candidates):
                self.error(
                    rng,
                    "command-not-found",
                    f"command file '{program}' not found (relative to {self.folder})",
                )
            elif not any(os.access(path, os.X_OK) for path in candidates if path.is_file()):
                self.report(
                    rng,
                    "command-not-found",
                    f"command file '{program}' is not executable (chmod +x)",
                    Severity.WARNING,
                )
        elif self.which(program) is None:
            self.report(rng, "program-not-found", f"program '{program}' is not on PATH", Severity.WARNING)

    def which(self, program: str) -> str | None:
        if program not in self.programs:
            self.programs[program] = shutil.which(program)
        return self.programs[program]

    # -- signals and checks ------------------------------------------------------------

    def check_signals(self) -> None:
        for signal, globs in self.spec.signal_glob_ranges.items():
            for glob, rng in globs.items():
                problem = glob_problem(glob)
                if problem:
                    self.error(rng, "bad-glob", problem)
            if signal in self.names and signal in self.spec.signal_ranges:
                self.report(
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
                self.report(
                    check.range,
                    "duplicate-check",
                    f"duplicate check name '{name}'",
                    Severity.WARNING,
                )
            seen.add(name)
            for glob, rng in check.item_ranges.get("watch", {}).items():
                problem = glob_problem(glob)
                if problem:
                    self.error(rng, "bad-glob", problem)
            after_ranges = check.item_ranges.get("after", {})
            for signal in check.settings.after:
                if signal not in self.known_signals:
                    hint = did_you_mean(signal, self.known_signals)
                    self.error(
                        after_ranges.get(signal, check.range),
                        "unknown-signal",
                        f"check '{name}' runs after '{signal}', which nothing fires{hint}",
                    )

    def check_integrators(self) -> None:
        integrators = [agent for agent in self.spec.agents if agent.settings.integrate]
        for agent in integrators[1:]:
            self.report(
                self.setting_range(agent, "integrate"),
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
                    self.report(
                        self.item_range(agent, "emits", signal),
                        "unused-signal",
                        f"'{signal}' is emitted, but no agent needs it and no check runs after it",
                        Severity.HINT,
                    )


def _components(graph: dict[str, set[str]]) -> dict[str, str]:
    """Agent -> a representative of its strongly connected component (Kosaraju)."""
    order: list[str] = []
    seen: set[str] = set()
    for root in graph:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(graph[root])))]
        while stack:
            node, successors = stack[-1]
            nxt = next((n for n in successors if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
    reverse: dict[str, set[str]] = {}
    for node, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    component: dict[str, str] = {}
    for root in reversed(order):
        if root in component:
            continue
        component[root] = root
        pending = [root]
        while pending:
            for previous in reverse.get(pending.pop(), ()):
                if previous not in component:
                    component[previous] = root
                    pending.append(previous)
    return component


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The shortest path of agents from ``start`` to ``goal`` (both included), if any."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (step := previous[path[-1]]) is not None:
                path.append(step)
            return path[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None

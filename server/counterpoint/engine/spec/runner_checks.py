"""Validation of agents' runners and the files they need (transcripts, commands).

`SpecFindings` collects the findings about one spec and locates settings in
its text (an agent's own line or the front matter default); `RunnerChecks`
reports to one the runner checks: required settings, presets and, with
``check_files``, command files on disk and programs on PATH (transcripts are
handed to the path checks). The validator in `counterpoint.engine.spec.validate`
owns one findings list and the checks that report to it.
"""

from __future__ import annotations

import bisect
import os
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from counterpoint_protocol.presets import RUNNER_PRESETS, presets_of
from counterpoint_protocol.spec import (
    AgentSpec,
    Severity,
    SourceRange,
    Spec,
    SpecDiagnostic,
)

from counterpoint.engine.spec.values import did_you_mean

_ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
_SHELL_WORDS = frozenset(
    {"!", ".", ":", "[", "[[", "case", "cd", "command", "eval", "exec", "export"}
    | {"for", "if", "set", "source", "test", "time", "while", "{", "("}
)


class SpecFindings:
    """The findings about one spec, and where its settings are written."""

    def __init__(self, spec: Spec, *, check_files: bool) -> None:
        self.spec = spec
        self.check_files = check_files
        self.folder = Path(spec.path).parent
        self.diagnostics: list[SpecDiagnostic] = []

    def report(self, rng: SourceRange, code: str, message: str, severity: Severity) -> None:
        self.diagnostics.append(SpecDiagnostic(range=rng, severity=severity, message=message, code=code))

    def error(self, rng: SourceRange, code: str, message: str) -> None:
        self.report(rng, code, message, Severity.ERROR)

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


class RunnerChecks:
    """Checks of each agent's runner settings and of the files and programs it runs, reported to
    the `SpecFindings` it is given; a replay transcript goes to ``check_transcript`` (the path
    checks read it)."""

    def __init__(self, findings: SpecFindings, check_transcript: Callable[[AgentSpec, str], None]) -> None:
        self.findings = findings
        self.spec = findings.spec
        self.check_files = findings.check_files
        self.folder = findings.folder
        self.check_transcript = check_transcript
        self.programs: dict[str, str | None] = {}
        self.unknown_runner_lines = sorted(
            diag.range.line for diag in findings.spec.diagnostics if diag.code == "unknown-runner"
        )

    def runner_unknown(self, agent: AgentSpec) -> bool:
        """Whether the runner this agent got was written wrong (so it fell back to a default)."""
        if "runner" in agent.value_ranges:
            first, last = agent.heading_range.line, agent.section_end_line
        elif self.spec.front_matter_range is not None:
            first, last = 0, self.spec.front_matter_range.end_line
        else:
            return False
        lines = self.unknown_runner_lines  # sorted: one lookup, not a scan of every finding
        index = bisect.bisect_left(lines, first)
        return index < len(lines) and lines[index] <= last

    def check_runner(self, agent: AgentSpec) -> None:
        settings = agent.settings
        if self.runner_unknown(agent):
            return
        if settings.runner == "replay" and not settings.transcript:
            self.findings.error(
                agent.heading_range,
                "missing-transcript",
                f"agent '{agent.name}' uses the replay runner but has no transcript: "
                "set 'transcript:' or another 'runner:'",
            )
        if settings.runner in ("command", "acp") and not settings.command and not settings.preset:
            self.findings.error(
                agent.heading_range,
                "missing-command",
                f"agent '{agent.name}' uses the {settings.runner} runner but has no 'command:' or 'preset:'",
            )
        preset_command = self.check_preset(agent)
        if not self.check_files:
            return
        if settings.runner == "replay" and settings.transcript:
            self.check_transcript(agent, settings.transcript)
        if settings.runner in ("command", "acp") and settings.command:
            self.check_command(agent, settings.command)
        elif preset_command is not None:
            self.check_command(agent, preset_command, key="preset")

    def check_preset(self, agent: AgentSpec) -> str | None:
        """Whether the agent's runner has its ``preset:``; the command line it stands for, if so."""
        runner, preset = agent.settings.runner, agent.settings.preset
        if preset is None:
            return None
        presets = presets_of(runner)
        rng = self.findings.setting_range(agent, "preset")
        if not presets:
            self.findings.error(
                rng,
                "unsupported-preset",
                f"runner '{runner}' has no presets; runners with presets: " + ", ".join(RUNNER_PRESETS),
            )
            return None
        if preset not in presets:
            hint = did_you_mean(preset, list(presets))
            self.findings.error(
                rng,
                "unknown-preset",
                f"unknown preset '{preset}'{hint}; {runner} presets: " + ", ".join(presets),
            )
            return None
        return presets[preset]

    def check_command(self, agent: AgentSpec, command: str, key: str = "command") -> None:
        """Parse ``command`` and look its program up (``key``: the setting it comes from)."""
        rng = self.findings.setting_range(agent, key)
        how = f" (preset '{agent.settings.preset}' runs `{command}`)" if key == "preset" else ""
        try:
            words = shlex.split(command)
        except ValueError as exc:
            self.findings.error(rng, "invalid-command", f"cannot parse the command: {exc}")
            return
        index = next((i for i, w in enumerate(words) if not _ENV_ASSIGNMENT.fullmatch(w)), None)
        if index is None:
            return
        program = words[index]
        if key == "command" and "command" in agent.value_ranges:
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
                self.findings.error(
                    rng,
                    "command-not-found",
                    f"command file '{program}' not found (relative to {self.folder})",
                )
            elif not any(os.access(path, os.X_OK) for path in candidates if path.is_file()):
                self.findings.report(
                    rng,
                    "command-not-found",
                    f"command file '{program}' is not executable (chmod +x)",
                    Severity.WARNING,
                )
        elif self.which(program) is None:
            self.findings.report(
                rng, "program-not-found", f"program '{program}' is not on PATH{how}", Severity.WARNING
            )

    def which(self, program: str) -> str | None:
        if program not in self.programs:
            self.programs[program] = shutil.which(program)
        return self.programs[program]

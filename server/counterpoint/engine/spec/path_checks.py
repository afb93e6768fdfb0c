"""Validation of the paths a spec names and of the transcripts it replays.

`PathChecks` (reporting to the validator's `SpecFindings`): every path-valued setting (an agent's
``transcript`` and ``cwd``, the front matter's ``context`` items, a check's
``format: junit:<file>`` / ``sarif:<file>`` report) must stay inside the
workspace root once symlinks are resolved (``path-outside-workspace``, at the
exact range of the path); a check's ``format`` must be known
(``invalid-format``); and a replay transcript is read and validated line by
line (``invalid-transcript``: one finding per bad line, at the ``transcript:``
value, naming the transcript's file and line, so the CLI and the editor show
the same thing). All of this touches the disk, so it only runs with
``check_files``; the runners refuse the same paths at run time.
"""

from __future__ import annotations

from pathlib import Path

from counterpoint_protocol.spec import AgentSpec, CheckSpec, SourceRange
from counterpoint_protocol.transcript import TranscriptProblem, parse_transcript

from counterpoint.engine.checks.parsers import format_spec_error
from counterpoint.engine.spec.runner_checks import SpecFindings
from counterpoint.engine.spec.values import split_lines
from counterpoint.engine.workspace import find_workspace_root, outside_problem

MAX_TRANSCRIPT_FINDINGS = 20
"""Bad lines reported per transcript; the rest are counted in one more finding."""
_REPORT_FORMATS = ("junit", "sarif")


class PathChecks:
    """Checks that the spec's paths stay in the workspace, and of replay transcripts, reported to
    the `SpecFindings` it is given."""

    def __init__(self, findings: SpecFindings) -> None:
        self.findings = findings
        self.spec = findings.spec
        self.check_files = findings.check_files
        self.folder = findings.folder
        self._root: Path | None = None
        self._transcripts: dict[Path, list[TranscriptProblem] | None] = {}

    @property
    def root(self) -> Path:
        """The workspace root, found as the engine finds it (the nearest ``.git``)."""
        if self._root is None:
            self._root = find_workspace_root(Path(self.spec.path))
        return self._root

    def value_range(self, agent: AgentSpec, key: str) -> SourceRange:
        """The value of an agent's setting: its own line, else the front matter default's value."""
        if key in agent.value_ranges:
            return agent.value_ranges[key]
        for path in (f"defaults.{key}", key):
            if path in self.spec.value_ranges:
                return self.spec.value_ranges[path]
        return self.findings.setting_range(agent, key)

    def outside(self, value: str, rng: SourceRange, what: str, base: Path | None = None) -> bool:
        """Report ``value`` (relative to ``base``, default the spec's folder) if it leaves the root."""
        problem = outside_problem((base or self.folder) / value, self.root)
        if problem is None:
            return False
        self.findings.error(
            rng,
            "path-outside-workspace",
            f"{what} '{value}' {problem}: a spec may only name files inside its workspace",
        )
        return True

    # -- every path-valued setting -----------------------------------------------------------

    def check_paths(self) -> None:
        if not self.check_files:
            return
        for item in self.spec.context or []:
            rng = self.spec.context_ranges.get(item) or self.spec.value_ranges.get("context")
            self.outside(item, rng or self.spec.key_ranges.get("context", _START), "context file")
        for agent in self.spec.agents:
            settings = agent.settings
            if settings.transcript:
                self.outside(settings.transcript, self.value_range(agent, "transcript"), "transcript")
            if settings.cwd:
                self.outside(settings.cwd, self.value_range(agent, "cwd"), "working folder (cwd)")
        for check in self.spec.checks:
            self.check_format(check)

    def check_format(self, check: CheckSpec) -> None:
        fmt = check.settings.format
        rng = check.value_ranges.get("format", check.range)
        problem = format_spec_error(fmt)
        if problem is not None:
            self.findings.error(rng, "invalid-format", f"check '{check.settings.name}': {problem}")
            return
        kind, _, name = fmt.strip().partition(":")
        if kind in _REPORT_FORMATS and name:
            self.outside(name, _path_part(self.spec.text, rng, fmt), f"{kind} report file")

    # -- transcripts -----------------------------------------------------------------------------

    def check_transcript(self, agent: AgentSpec, transcript: str) -> None:
        path = self.folder / transcript
        if outside_problem(path, self.root) is not None:
            return  # reported by check_paths; never read a file outside the workspace
        problems = self.transcript_problems(path)
        rng = self.value_range(agent, "transcript")
        if problems is None:  # unreadable
            if not path.is_file():
                self.findings.error(
                    self.findings.setting_range(agent, "transcript"),
                    "transcript-not-found",
                    f"transcript '{transcript}' not found (relative to {self.folder})",
                )
            return
        for problem in problems[:MAX_TRANSCRIPT_FINDINGS]:
            self.findings.error(
                rng, "invalid-transcript", f"transcript {transcript}:{problem.line}: {problem.message}"
            )
        if len(problems) > MAX_TRANSCRIPT_FINDINGS:
            more = len(problems) - MAX_TRANSCRIPT_FINDINGS
            self.findings.error(rng, "invalid-transcript", f"transcript {transcript}: {more} more bad lines")

    def transcript_problems(self, path: Path) -> list[TranscriptProblem] | None:
        """The bad lines of the transcript at ``path`` (read once per spec), None if unreadable."""
        if path not in self._transcripts:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                self._transcripts[path] = None
            else:
                self._transcripts[path] = parse_transcript(text)[1]
        return self._transcripts[path]


_START = SourceRange.on_line(0)


def _path_part(text: str, rng: SourceRange, fmt: str) -> SourceRange:
    """The file part of ``kind:file`` when the value is written plainly on one line, else the value."""
    if rng.line != rng.end_line:
        return rng
    lines = split_lines(text)
    written = lines[rng.line][rng.col : rng.end_col] if rng.line < len(lines) else ""
    start = written.find(":") + 1
    if written.strip() != fmt.strip() or start <= 0:
        return rng
    return SourceRange.on_line(rng.line, rng.col + start, rng.end_col)

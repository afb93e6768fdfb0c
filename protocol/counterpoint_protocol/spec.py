"""The spec: what a ``*.agents.md`` file says, as pydantic models.

`SpecFrontMatter` and `AgentSettings` are the user-facing contract (their JSON
Schemas are exported for the editors); `Spec` and `AgentSpec` are the parsed
form, carrying source ranges so that every finding points at the exact text.

Ranges are 0-based lines and columns counted in Unicode code points; the
language server converts columns to the client's position encoding.

Names (agents, signals, checks, roles) follow one grammar, `NAME_PATTERN`: an
ASCII letter or ``_``, then ASCII letters, digits, ``_``, ``.`` and ``-``, at
most `NAME_MAX_LENGTH` characters. Names become file names (an agent's task
file, conversation and recorded transcript) and environment values, so they are
ASCII on purpose: no path separators, no leading dot, no spaces or control
characters, and no Unicode (no look-alike letters, no NFC/NFD twins on macOS).
The exported JSON Schemas carry the pattern.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

RUNNER_NAMES = ("replay", "command", "llm", "acp")
EXECUTOR_NAMES = ("local", "ray")
COMMAND_PRESETS = ("claude-code", "aider", "codex", "gemini")

NAME_MAX_LENGTH = 64
NAME_PATTERN = rf"[A-Za-z_][A-Za-z0-9_.-]{{0,{NAME_MAX_LENGTH - 1}}}"
"""The grammar of agent, signal, check and role names (match the whole name)."""
NAME_RULE = (
    "an ASCII letter or '_', then ASCII letters, digits, '_', '.' or '-', "
    f"at most {NAME_MAX_LENGTH} characters"
)
_NAME = re.compile(NAME_PATTERN)
_NAME_SCHEMA: JsonDict = {"pattern": f"^{NAME_PATTERN}$"}


def is_valid_name(name: str) -> bool:
    """Whether ``name`` follows `NAME_PATTERN` (so it may become part of a file name)."""
    return _NAME.fullmatch(name) is not None


class SourceRange(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def on_line(cls, line: int, col: int = 0, end_col: int | None = None) -> SourceRange:
        return cls(line=line, col=col, end_line=line, end_col=col if end_col is None else end_col)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


class SpecDiagnostic(BaseModel):
    """A problem found in a spec (or, for findings of checks, in any file)."""

    range: SourceRange
    severity: Severity
    message: str
    code: str
    source: str = "counterpoint"
    path: str | None = None
    """Absolute path of the file the diagnostic is on; None means the spec itself."""


class AgentSettings(BaseModel):
    """Settings of one agent: ``key: value`` lines under its ``## name`` heading.

    Any of these may also be given in the front matter (top level, or under
    ``defaults:``) as the default for every agent.
    """

    model_config = ConfigDict(extra="forbid")

    runner: Literal["replay", "command", "llm", "acp"] = Field(
        "replay",
        description="How the agent runs: replay a transcript, a command, an LLM, an ACP agent.",
    )
    needs: list[str] = Field(
        default_factory=list,
        description="Signal names and agent names this agent waits for (comma-separated).",
        json_schema_extra={"items": {"type": "string", **_NAME_SCHEMA}},
    )
    emits: list[str] = Field(
        default_factory=list,
        description="Signals this agent fires.",
        json_schema_extra={"items": {"type": "string", **_NAME_SCHEMA}},
    )
    transcript: str | None = Field(None, description="replay: JSONL transcript, relative to the spec.")
    speed: float | None = Field(None, description="replay: scale of recorded durations (2 = twice as fast).")
    command: str | None = Field(None, description="command/acp: the command line to run (shell syntax).")
    preset: str | None = Field(
        None,
        description="command: a ready command for a known CLI (claude-code, aider, codex, gemini).",
    )
    timeout: float | None = Field(
        None, description="Seconds (or 30s, 10m, 1h) before the agent is timed out."
    )
    retries: int = Field(0, ge=0, le=10, description="How often a failed agent is started again.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    cwd: str | None = Field(None, description="Working folder, relative to the spec's folder.")
    gate: Literal["approve"] | None = Field(
        None, description="approve: wait for a person's go once the needs are met."
    )
    model: str | None = Field(None, description="llm: openai:<name> or anthropic:<name>.")
    role: str | None = Field(
        None,
        description="llm: a Claude Code subagent in .claude/agents/<role>.md.",
        json_schema_extra={"anyOf": [{"type": "string", **_NAME_SCHEMA}, {"type": "null"}]},
    )
    max_requests: int | None = Field(None, ge=1, description="llm: most model requests for this agent.")
    max_tokens: int | None = Field(None, ge=1, description="llm: most tokens (in + out) for this agent.")
    integrate: bool = Field(
        False, description="Start after every other agent, with the open findings as the task."
    )
    rounds: int = Field(1, ge=1, le=20, description="integrate: how many fix-and-recheck rounds at most.")
    isolation: Literal["shared", "worktree"] = Field(
        "shared",
        description=(
            "shared: work in the workspace itself; worktree: a git working copy of its own on a "
            "branch counterpoint/<run>/agents/<name>, merged into the run's integration branch."
        ),
    )
    on_conflict: Literal["integrator", "restart", "fail"] = Field(
        "integrator",
        description="worktree: when merging its work conflicts: leave it to the integrator, "
        "run the agent again on the new tip, or fail it.",
    )
    executor: Literal["local", "ray"] = Field(
        "local",
        description=(
            "local: in the process that runs the spec; ray: in a Ray actor on a node of a cluster "
            "(counterpoint[ray]), in a copy of its own (isolation: worktree unless set otherwise)."
        ),
    )
    resources: dict[str, float | str] = Field(
        default_factory=dict,
        description=(
            "ray: what the agent needs of a node: {CPU: 2, memory: 4GB, GPU: 0} or a custom Ray "
            "resource such as a node label (default: 1 CPU)."
        ),
    )

    @model_validator(mode="after")
    def _ray_agents_work_in_a_copy(self) -> AgentSettings:
        """An agent on Ray works in a copy of its own: ``executor: ray`` implies ``isolation:
        worktree`` unless isolation is set (``shared`` then is an error of the spec)."""
        if self.executor == "ray" and "isolation" not in self.model_fields_set:
            self.isolation = "worktree"
        return self


class CheckSettings(BaseModel):
    """An integration check, under ``checks:`` in the front matter."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra=_NAME_SCHEMA)
    run: str = Field(description="The command (shell syntax), run in the spec's folder.")
    after: list[str] = Field(default_factory=list, description="Run as soon as all of these signals fired.")
    watch: list[str] = Field(default_factory=list, description="Run again when these files change.")
    format: str = Field("gcc", description="gcc, sarif[:file], junit:<file>, pytest, or none.")
    timeout: float | None = None


class SpecFrontMatter(BaseModel):
    """The YAML front matter of a spec: run-wide settings."""

    model_config = ConfigDict(extra="forbid")

    feature: str | None = Field(None, description="What the agents build.")
    context: list[str] | None = Field(
        None,
        description="Shared context files, loaded once for every agent (default: AGENTS.md if present).",
    )
    max_parallel: int | None = Field(None, ge=1, description="Most agents running at once (default: all).")
    signals: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Signal name -> glob(s), relative to the spec's folder.",
        json_schema_extra={"propertyNames": _NAME_SCHEMA},
    )
    checks: list[CheckSettings] = Field(default_factory=list)
    budget_usd: float | None = Field(None, ge=0, description="llm: most money one run may spend.")
    defaults: dict[str, Any] = Field(default_factory=dict, description="Default agent settings.")


class AgentSpec(BaseModel):
    """One parsed agent section."""

    name: str
    settings: AgentSettings
    task: str = ""
    heading_range: SourceRange
    name_range: SourceRange
    section_end_line: int
    """Last line of the section (inclusive): the line before the next heading, or the last line."""
    setting_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Setting key -> range of the whole ``key: value`` line text (for the spec or front matter)."""
    value_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Setting key -> range of the value."""
    item_ranges: dict[str, dict[str, SourceRange]] = Field(default_factory=dict)
    """For list settings (needs, emits): key -> item -> range of that item."""


class CheckSpec(BaseModel):
    settings: CheckSettings
    range: SourceRange
    """Where the check is declared in the front matter."""
    item_ranges: dict[str, dict[str, SourceRange]] = Field(default_factory=dict)
    """For list settings (after, watch): key -> item -> range of that item."""
    value_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Setting key -> range of its value."""


class Spec(BaseModel):
    """A parsed spec with everything needed to validate, run and explain it."""

    path: str
    """Absolute path of the spec file."""
    text: str = ""
    feature: str | None = None
    context: list[str] | None = None
    max_parallel: int | None = None
    signals: dict[str, list[str]] = Field(default_factory=dict)
    signal_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Signal name -> range of its key in the front matter."""
    signal_glob_ranges: dict[str, dict[str, SourceRange]] = Field(default_factory=dict)
    """Signal name -> glob -> range of that glob in the front matter."""
    checks: list[CheckSpec] = Field(default_factory=list)
    budget_usd: float | None = None
    agents: list[AgentSpec] = Field(default_factory=list)
    front_matter_range: SourceRange | None = None
    title_range: SourceRange | None = None
    key_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Front matter key -> range of the key. Nested keys are dotted: ``defaults.runner``,
    ``checks.0.run``. Unknown keys are recorded too (the validator reports them)."""
    value_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Front matter key (dotted, as in ``key_ranges``) -> range of its value."""
    context_ranges: dict[str, SourceRange] = Field(default_factory=dict)
    """Item of ``context`` -> range of that item in the front matter."""
    diagnostics: list[SpecDiagnostic] = Field(default_factory=list)

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == Severity.ERROR for d in self.diagnostics)

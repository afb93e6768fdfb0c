"""Arguments and results of the custom commands (`workspace/executeCommand`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from counterpoint_protocol.events import PlanPrediction


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RunParams(_Params):
    uri: str
    agents: list[str] | None = None


class CancelParams(_Params):
    runId: str | None = None


class RerunParams(_Params):
    runId: str
    agent: str


class EventsParams(_Params):
    runId: str | None = None
    type: str | None = None
    limit: int | None = Field(None, ge=1)


class ResumeParams(_Params):
    runId: str


class ReportParams(_Params):
    runId: str | None = None


class DiffParams(_Params):
    runId: str
    agent: str | None = None
    """One agent's changes (its start commit -> its branch); None: the run (base -> integration)."""


class ApplyParams(_Params):
    runId: str


class DiscardParams(_Params):
    runId: str


class AttachParams(_Params):
    """``counterpoint.attach``: follow a run of the workspace's event log that another process runs."""

    runId: str = Field(min_length=1, max_length=200)


class AttachResult(BaseModel):
    """``counterpoint.attach``'s answer, once the run's past events are shown (its new ones follow)."""

    runId: str
    spec: str | None = None
    """The run's spec in this workspace (None: no file of this workspace matches the one it ran)."""
    state: str
    """running, succeeded, failed or cancelled: as its events say."""
    agents: list[str] = Field(default_factory=list)
    following: bool
    """New events of the run are shown as they are committed (False: it had ended, or was live here)."""
    message: str = ""
    """One line for the person."""


class ShowFileParams(_Params):
    runId: str
    commit: str
    """A commit of the run (its base, an agent's start or tip, the integration tip), or a ref."""
    path: str
    """Relative to the repository's top folder, with ``/``."""


class PlanParams(_Params):
    """``counterpoint.plan``: a feature request in one sentence -> a spec in the workspace."""

    request: str = Field(min_length=1, max_length=20_000)
    folder: str | None = None
    """A file: URI of the workspace folder to plan in (default: the first workspace folder)."""
    out: str | None = None
    """Where to write the spec (a path ending in .agents.md, relative to the folder or absolute;
    default: named after the request, at the workspace's root, never over an existing file)."""
    model: str | None = None
    """openai:<name> or anthropic:<name> (default: ``director.model`` in the user settings)."""


class PlanResult(BaseModel):
    """``counterpoint.plan``'s answer, once the spec is written (and shown with window/showDocument)."""

    planId: str
    uri: str
    """The spec written (a file: URI)."""
    path: str
    ok: bool
    """The spec passes ``counterpoint check`` (no errors)."""
    rounds: int
    """Drafts checked: the first and each repair."""
    errors: int = 0
    warnings: int = 0
    message: str = ""
    """One line for the person: what was written and whether it can run."""
    summary: str = ""
    """The director's own words on the plan."""
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    prediction: PlanPrediction | None = None


class ShowFileResult(BaseModel):
    text: str
    """The file's text at ``commit`` (empty when it does not exist there or is binary)."""
    exists: bool = True
    binary: bool = False


class FileChange(BaseModel):
    """One changed file of a diff, relative to the repository's top folder."""

    path: str
    status: str
    """added, modified, deleted, renamed, or what git said."""
    added: int = 0
    removed: int = 0
    binary: bool = False
    old_path: str | None = None
    abs_path: str | None = None
    """The file in the user's working tree (where it lands on apply)."""


class DiffResult(BaseModel):
    runId: str
    agent: str | None = None
    base: str
    """The commit the diff is taken from."""
    head: str
    """The commit the diff is taken to."""
    files: list[FileChange] = Field(default_factory=list)
    patch: str | None = None
    """The unified diff (only when asked for by the CLI)."""


class ApplyResult(BaseModel):
    """``counterpoint.apply``: the run's changes written into the user's working tree."""

    runId: str
    base: str
    head: str
    """The run's integration tip whose changes (``base..head``) were applied."""
    files: list[FileChange] = Field(default_factory=list)


class DiscardResult(BaseModel):
    """``counterpoint.discard``: what was deleted."""

    runId: str
    refs: list[str] = Field(default_factory=list)
    """The branches and refs deleted."""
    working_copies: list[str] = Field(default_factory=list)
    """The working copies removed (their paths)."""


class AgentStatusInfo(BaseModel):
    """One agent in a `RunStatusInfo` snapshot."""

    name: str
    state: str
    """An agent state (see ``agentStates`` in methods.json)."""
    waiting_on: list[str] = Field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    last_output: str | None = None
    attempts: int = 0
    error: str | None = None


class RunStatusInfo(BaseModel):
    """A live run as it stands (`Run.status()`): what the faces show between events."""

    runId: str
    spec: str
    state: str
    """starting, running, succeeded, failed or cancelled."""
    agents: list[AgentStatusInfo]
    signals: dict[str, str] = Field(default_factory=dict)
    """Signal name -> timestamp it fired."""
    signal_by: dict[str, str] = Field(default_factory=dict)
    """Signal name -> the agent that fired it (file signals: absent)."""
    started_at: str | None = None


class StatusResult(BaseModel):
    runs: list[RunStatusInfo]


class ServerSettings(BaseModel):
    """Settings from `initializationOptions` and `workspace/configuration` (section ``counterpoint``)."""

    model_config = ConfigDict(extra="ignore")

    maxParallel: int | None = Field(None, ge=1, description="Cap on agents running at once, for every run.")
    watcherIgnores: list[str] = Field(
        default_factory=list, description="Extra glob patterns the watcher ignores."
    )
    logLevel: str = Field("info", pattern="^(debug|info|warning|error)$")
    trust: bool = Field(False, description="Allow commands from specs in this workspace without asking.")
    extra: dict[str, Any] = Field(default_factory=dict)

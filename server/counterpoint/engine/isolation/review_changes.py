"""What an isolated run changed: the run as its events tell it (`run_isolation`), the files one
agent or the whole run changed with their +/- counts (`diff`), and a file at a commit (`show_file`).

What a run is, git-wise, comes from its events alone: ``run_started``'s ``isolation`` (base,
integration branch), ``working_copy_created`` (each agent's branch, start commit and copy),
``snapshot`` and ``agent_merged``. Everything here only reads the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from counterpoint_protocol.events import Event, EventType
from counterpoint_protocol.messages import DiffResult, FileChange, ShowFileResult

from counterpoint.engine.isolation import IsolationError, Repo, RunRefs, git, resolve

T = EventType
ISOLATION_EVENTS = (
    T.RUN_STARTED,
    T.RUN_RESUMED,
    T.RUN_FINISHED,
    T.WORKING_COPY_CREATED,
    T.SNAPSHOT,
    T.AGENT_MERGED,
)
"""The event types `run_isolation` reads (a face queries only these)."""
STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type changed"}
INTEGRATION = "integration"
"""The name of the integration branch's working copy in ``working_copy_created``."""
MAX_SHOWN_BYTES = 20 * 1024 * 1024
"""`show_file` refuses blobs larger than this (an editor's diff view is no place for them)."""
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")
PATCH_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-relative",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--find-renames",
)
"""A patch git itself can apply, whatever the user's diff settings (noprefix, colour, drivers)."""


class ReviewRefused(IsolationError):
    """Diff, apply, discard or show refused, with one line saying why and what to do."""


@dataclass
class AgentChanges:
    """One agent of an isolated run, as its events tell it."""

    name: str
    branch: str | None = None
    """Its branch (a full ref), None for an agent without a copy of its own (an integrator)."""
    start_commit: str | None = None
    last_snapshot: str | None = None
    merged: str | None = None
    """The integration tip its merge made."""
    merged_from: str | None = None
    """The integration tip before its merge."""
    order: int = 0
    merged_files: int = 0
    """Files its merge changed (``agent_merged``)."""
    snapshot_files: set[str] = field(default_factory=set)
    """Files its snapshots changed (``snapshot``), as far as they list them."""

    @property
    def file_count(self) -> int:
        """How many files it changed, from its events."""
        return len(self.snapshot_files) or self.merged_files


@dataclass
class IsolationInfo:
    """An isolated run as its events tell it."""

    run_id: str
    base: str
    integration: str
    """The integration branch (a full ref)."""
    toplevel: str
    by_agent: dict[str, AgentChanges] = field(default_factory=dict)
    copies: list[str] = field(default_factory=list)
    """Every working copy the run made (paths)."""
    finished: bool = False
    """The run's last segment ended (``run_finished`` after the last start or resume)."""
    pid: int | None = None
    """The process of the run's last segment."""

    @property
    def refs(self) -> RunRefs:
        return RunRefs(self.run_id)


def run_isolation(events: Iterable[Event]) -> IsolationInfo:
    """The isolated run these events (one run's, in id order) describe; `ReviewRefused` when there
    are none or the run did not isolate its agents."""
    info: IsolationInfo | None = None
    run_id: str | None = None
    finished, pid = False, None
    agents: dict[str, AgentChanges] = {}
    copies: list[str] = []
    named: set[str] = set()
    """The run's agents (``run_started``): an ``integration`` copy that is none of them is the
    integration branch's copy, where checks and integrators work."""
    tip: str | None = None
    for event in events:
        run_id = run_id or event.run_id
        meta, actor = event.metadata, event.actor
        if event.type in (T.RUN_STARTED, T.RUN_RESUMED):
            finished, pid = False, meta.get("pid") if isinstance(meta.get("pid"), int) else None
            named.update(str(name) for name in meta.get("agents") or [])
            found = meta.get("isolation")
            if info is None and isinstance(found, dict) and isinstance(found.get("base"), str):
                info = IsolationInfo(
                    run_id=event.run_id,
                    base=found["base"],
                    integration=full_ref(str(found.get("integration") or RunRefs(event.run_id).integration)),
                    toplevel=str(found.get("toplevel") or ""),
                )
                tip = info.base
        elif event.type == T.RUN_FINISHED:
            finished = True
        elif event.type == T.WORKING_COPY_CREATED and actor:
            if isinstance(meta.get("path"), str):
                copies.append(meta["path"])
            branch = full_ref(str(meta.get("branch") or ""))
            if (info is not None and branch == info.integration) or (
                actor == INTEGRATION and actor not in named
            ):
                continue  # the integration copy
            agent = agents.setdefault(actor, AgentChanges(actor))
            agent.branch = branch or None
            agent.start_commit = meta.get("start_commit") or agent.start_commit
        elif event.type == T.SNAPSHOT and actor and isinstance(meta.get("commit"), str):
            agent = agents.setdefault(actor, AgentChanges(actor))
            agent.last_snapshot = meta["commit"]
            files = meta.get("files")
            if isinstance(files, list):
                agent.snapshot_files.update(f for f in files if isinstance(f, str))
        elif event.type == T.AGENT_MERGED and actor and isinstance(meta.get("commit"), str):
            agent = agents.setdefault(actor, AgentChanges(actor))
            agent.merged_from, agent.merged, tip = tip, meta["commit"], meta["commit"]
            agent.order = int(meta.get("order") or 0)
            agent.merged_files = int(meta.get("files") or 0)
    if run_id is None:
        raise ReviewRefused("no such run")
    if info is None:
        raise ReviewRefused(
            f"run {run_id} did not isolate its agents (isolation: shared): "
            "its changes were made in the working tree itself, there is nothing to review or apply"
        )
    info.by_agent, info.copies, info.finished, info.pid = agents, copies, finished, pid
    return info


def full_ref(branch: str) -> str:
    return branch if not branch or branch.startswith("refs/") else f"refs/heads/{branch}"


# -- diff -------------------------------------------------------------------------------------------


async def endpoints(repo: Repo, info: IsolationInfo, agent: str | None) -> tuple[str, str]:
    """``(from, to)`` of a diff: the agent's start commit -> its branch's tip (or its last
    snapshot, or what its merge added), or the run's base -> its integration tip."""
    if agent is None:
        head = await resolve(repo, info.integration)
        if head is None:
            raise ReviewRefused(
                f"run {info.run_id} has no integration branch any more ({RunRefs.branch_name(info.integration)}): "
                "it was discarded"
            )
        return info.base, head
    found = info.by_agent.get(agent)
    if found is None:
        known = ", ".join(sorted(info.by_agent)) or "none"
        raise ReviewRefused(
            f"no isolated agent {agent!r} in run {info.run_id} (its isolated agents: {known})"
        )
    if found.start_commit is not None:
        head = await resolve(repo, found.branch) if found.branch else None
        head = head or found.last_snapshot or found.start_commit
        return found.start_commit, head
    if found.merged is not None and found.merged_from is not None:  # an integrator: what its commit added
        return found.merged_from, found.merged
    raise ReviewRefused(f"agent {agent!r} of run {info.run_id} has no changes of its own yet")


async def diff(repo: Repo, info: IsolationInfo, agent: str | None = None, patch: bool = False) -> DiffResult:
    """What ``agent`` changed, or the whole run against its base (``patch``: with the unified diff)."""
    base, head = await endpoints(repo, info, agent)
    files = await changed_files(repo, base, head)
    text = None
    if patch:
        text = (await git(repo, "diff", *PATCH_OPTIONS, base, head)).stdout
    return DiffResult(runId=info.run_id, agent=agent, base=base, head=head, files=files, patch=text)


async def changed_files(repo: Repo, base: str, head: str) -> list[FileChange]:
    """The files changed from ``base`` to ``head`` with their +/- counts (binary flagged),
    ``abs_path`` where each lands in the user's working tree."""
    out = (
        await git(repo, "diff", "--raw", "--numstat", "-z", "--find-renames", "--no-relative", base, head)
    ).stdout
    return parse_changes(out, Path(repo.toplevel))


def parse_changes(out: str, toplevel: Path) -> list[FileChange]:
    """``git diff --raw --numstat -z`` output: the raw records first, then the numstat ones."""
    tokens = out.split("\0")
    changes: dict[str, FileChange] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith(":"):
            letter = token.split(" ")[-1][:1]
            if letter in ("R", "C"):
                old, path = tokens[i + 1], tokens[i + 2]
                i += 3
            else:
                old, path = None, tokens[i + 1]
                i += 2
            changes[path] = FileChange(
                path=path, status=STATUS.get(letter, letter), old_path=old, abs_path=str(toplevel / path)
            )
            continue
        parts = token.split("\t")
        i += 1
        if len(parts) != 3:
            continue
        added, removed, path = parts
        if not path:  # a rename: the old and new paths follow
            path = tokens[i + 1] if i + 1 < len(tokens) else ""
            i += 2
        change = changes.get(path)
        if change is None:
            continue
        change.binary = added == "-" and removed == "-"
        change.added = int(added) if added.isdigit() else 0
        change.removed = int(removed) if removed.isdigit() else 0
    return list(changes.values())


# -- show -------------------------------------------------------------------------------------------


async def show_file(repo: Repo, commit: str, path: str) -> ShowFileResult:
    """``path`` (relative to the repository's top folder) as it is at ``commit``."""
    if not (_HEX.fullmatch(commit) or (commit.startswith("refs/") and ".." not in commit)):
        raise ReviewRefused(f"not a commit: {commit!r} (a commit id, or a ref under refs/)")
    rel = path.replace("\\", "/")
    if not rel or rel.startswith("/") or "\0" in rel or ".." in rel.split("/") or ":" in rel[:2]:
        raise ReviewRefused(f"not a path inside the repository: {path!r}")
    sha = await resolve(repo, commit)
    if sha is None:
        raise ReviewRefused(f"no such commit in {repo.toplevel}: {commit}")
    size = await git(repo, "cat-file", "-s", f"{sha}:{rel}", check=False)
    if size.returncode != 0:
        return ShowFileResult(text="", exists=False)
    if int(size.stdout.strip() or 0) > MAX_SHOWN_BYTES:
        raise ReviewRefused(f"{rel} is too large to show ({int(size.stdout) // (1024 * 1024)} MB)")
    blob = await git(repo, "cat-file", "blob", f"{sha}:{rel}")
    if "\0" in blob.stdout[:8000]:
        return ShowFileResult(text="", binary=True)
    return ShowFileResult(text=blob.stdout)

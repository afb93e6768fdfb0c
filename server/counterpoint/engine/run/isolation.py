"""`RunIsolation`: the isolated agents of one run (``isolation: worktree``).

Each isolated agent works in a git working copy of its own, on its own branch, made when it
becomes ready from the run's integration tip plus the snapshots of the signals it needs. When it
fires a signal (a file signal seen in its copy, or one it emits), its copy is committed as a
snapshot first, so the signal carries the work: agents needing it start from a tree that holds
it, and every change in the copy is the agent's, whatever tool wrote it. When it succeeds, its
branch is merged into the integration branch (one merge at a time, in the order agents finish,
which respects their needs). Checks and integrators work in one more copy, the integration copy,
which shows the merged work plus every snapshot handed on so far (`Integration`). Conflicts are
predicted while agents work (`ConflictWatch`) and met at merge as ``on_conflict`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import EventType, WorkingCopyPayload

from counterpoint.engine.isolation import (
    IsolationError,
    Repo,
    RunRefs,
    WorkingCopies,
    WorkingCopy,
    agent_env,
    capture_base,
    git,
    resolve,
)
from counterpoint.engine.run.conflicts import ConflictWatch, MergeConflict, conflict_findings
from counterpoint.engine.run.integration import INTEGRATION, Integration, user_path
from counterpoint.engine.run.observer import RunObserver
from counterpoint.engine.run.place import AgentPlace
from counterpoint.engine.run.state import AgentRuntime
from counterpoint.engine.workspace import WorkspaceTools

if TYPE_CHECKING:
    from counterpoint.engine.process import TaskSpawner
    from counterpoint.engine.run.view import Emit, RunView

log = logging.getLogger(__name__)
MAX_RESTARTS = 2
"""How often ``on_conflict: restart`` runs an agent again (then it fails)."""


class RunIsolation(RunObserver):
    """The isolated agents of one run: base, copies, snapshots at signals, merges, conflicts."""

    def __init__(
        self,
        *,
        repo: Repo,
        run_id: str,
        root: Path,
        spec_dir: Path,
        signals: Mapping[str, list[str]],
        agents: Mapping[str, AgentRuntime],
        emit: Emit,
        fire: Callable[[str, dict[str, Any], str | None], bool],
        make_tools: Callable[[Path, Path], WorkspaceTools],
        files_changed: Callable[[list[Any]], None],
        state_dir: Path,
        watch: bool,
        restored: dict[str, Any] | None = None,
        restored_signals: Mapping[str, dict[str, Any]] | None = None,
        checks: bool = False,
    ) -> None:
        self.repo = repo
        self.refs = RunRefs(run_id)
        self.root = root
        self.spec_dir = spec_dir
        self._signals = dict(signals)
        self._agents = agents
        self._emit = emit
        self._fire = fire
        self._make_tools = make_tools
        self._watch = watch
        self.copies = WorkingCopies(repo, self.refs, state_dir)
        self.integration = Integration(
            repo=repo, refs=self.refs, copies=self.copies, emit=emit, files_changed=files_changed
        )
        self.base = ""
        self.places: dict[str, AgentPlace] = {}
        self._signal_commits: dict[str, str] = {}
        """Signal -> the snapshot it handed on."""
        self._restarts: dict[str, int] = {}
        self._restored = restored
        self._checks = checks
        self._resumed_heads: dict[str, str] = {}
        """Resumed: agent -> its branch's tip from the earlier run (its start includes it)."""
        for signal, meta in (restored_signals or {}).items():
            if isinstance(meta.get("commit"), str):
                self._signal_commits[signal] = meta["commit"]
        self._tasks: set[asyncio.Task[None]] = set()
        self.conflicts = ConflictWatch(self, emit)

    @property
    def tip(self) -> str:
        return self.integration.tip

    # -- the run's start and end --------------------------------------------------------------------

    def isolated(self, agent: AgentRuntime) -> bool:
        return agent.spec.settings.isolation == "worktree" or (
            agent.spec.settings.integrate and self.integration.place is not None
        )

    def checks_in_copy(self) -> bool:
        """Checks and integrators work in the integration copy when every other agent of the
        run is isolated (with shared agents, the merged work is not all there: the workspace)."""
        workers = [a for a in self._agents.values() if not a.spec.settings.integrate]
        wanted = self._checks or any(a.spec.settings.integrate for a in self._agents.values())
        return wanted and bool(workers) and all(a.spec.settings.isolation == "worktree" for a in workers)

    async def begin(self) -> dict[str, Any]:
        """Capture the base, and make the integration copy when checks and integrators work
        there; returns ``run_started``'s ``isolation`` metadata."""
        earlier = self._restored or {}
        tip = None
        if earlier.get("base") and await resolve(self.repo, self.refs.base) == earlier["base"]:
            self.base = earlier["base"]  # resumed: the same base, the merged work so far
            tip = await resolve(self.repo, self.refs.integration)
            for name in self._agents:  # work an interrupted agent had snapshotted goes on
                head = await resolve(self.repo, self.refs.agent(name))
                if head is not None and head != self.base:
                    self._resumed_heads[name] = head
        else:
            self.base = await capture_base(self.repo, self.refs)
        place = None
        if self.checks_in_copy():
            copy = await self.copies.create(INTEGRATION, self.base)
            place = self._place(copy)
            self._created(INTEGRATION, copy, [])
        self.integration.start(tip or self.base, place)
        return {
            "base": self.base,
            "integration": self.refs.integration,
            "toplevel": str(self.repo.toplevel),
            "workspace_rel": self.repo.workspace_rel,
            "checks_in": str(place.spec_dir) if place is not None else None,
        }

    async def start(self, view: RunView, spawner: TaskSpawner) -> dict[str, Any]:
        """`begin`, then checks pointed at the integration copy; ``run_started``'s metadata."""
        try:
            meta = await self.begin()
        except Exception:
            await spawner.aclose()
            raise
        view.checks_dir = self.checks_dir()
        view.display = self.display_path
        return {"isolation": meta}

    def checks_dir(self) -> Path | None:
        """Where checks run (the integration copy's spec folder); None: the workspace."""
        place = self.integration.place
        return place.spec_dir if place is not None else None

    def display_path(self, path: Path) -> Path:
        """A path in a working copy -> the same file in the user's working tree."""
        for place in (self.integration.place, *self.places.values()):
            if place is not None and path.is_relative_to(place.copy.path):
                return self.repo.toplevel / path.relative_to(place.copy.path)
        return path

    def place_of(self, agent: AgentRuntime) -> AgentPlace | None:
        if agent.spec.settings.integrate and self.integration.place is not None:
            return self.integration.place
        return self.places.get(agent.name)

    def on_write(self, actor: str, path: str) -> None:
        """An agent wrote through the workspace tools: look for conflicts (the watcher may not
        have its watches on yet)."""
        if actor in self.places:
            self.conflicts.changed(actor)

    def live_heads(self) -> dict[str, AgentPlace]:
        return {n: p for n, p in self.places.items() if not self._agents[n].terminal}

    def _place(self, copy: WorkingCopy) -> AgentPlace:
        def inside(path: Path) -> Path:
            return copy.path / path.relative_to(self.repo.toplevel)

        root, spec_dir = inside(self.root), inside(self.spec_dir)
        env = agent_env(copy, os.environ.get("GIT_CEILING_DIRECTORIES"))
        return AgentPlace(
            copy=copy, root=root, spec_dir=spec_dir, tools=self._make_tools(root, spec_dir), env=env
        )

    def _created(self, name: str, copy: WorkingCopy, signals: list[str]) -> None:
        payload = WorkingCopyPayload(
            path=str(copy.path),
            branch=RunRefs.branch_name(copy.branch),
            start_commit=copy.start_commit,
            method=copy.method,
            seconds=round(copy.seconds, 4),
            signals=signals,
        )
        self._emit(EventType.WORKING_COPY_CREATED, name, copy.method, **payload.metadata())

    async def close(self, failed: set[str]) -> list[str]:
        """Stop watching and remove the copies, keeping the failed agents' (returned)."""
        for place in self.places.values():
            await self._stop_watching(place)
        self.conflicts.stop()
        for task in self._tasks:
            task.cancel()
        kept = sorted(name for name in failed if name in self.places)
        await self.copies.close(keep=kept)
        for name in [*self.places, *([INTEGRATION] if self.integration.place else [])]:
            if name not in kept:
                self._emit(EventType.WORKING_COPY_REMOVED, name, None)
        return kept

    # -- an agent's copy ----------------------------------------------------------------------------

    async def prepare(self, agent: AgentRuntime) -> AgentPlace:
        """The agent's place for its next attempt: the integration copy for an integrator, else
        a new copy from the tip plus the snapshots of the signals it needs."""
        if agent.spec.settings.integrate and self.integration.place is not None:
            return self.integration.place
        old = self.places.pop(agent.name, None)
        if old is not None:  # a retry or a restart starts again from the newest tip
            await self._stop_watching(old)
            await self.copies.remove(old.copy)
        needs = agent.spec.settings.needs
        wanted = [(name, commit) for name, commit in self._signal_commits.items() if name in needs]
        if (earlier := self._resumed_heads.pop(agent.name, None)) is not None:
            wanted.append((agent.name, earlier))
        start = await self.integration.start_point(wanted)
        copy = await self.copies.create(agent.name, start.commit)
        place = self._place(copy)
        place.on_signal = lambda signal, meta: self.fire_with_snapshot(agent.name, signal, meta)
        if old is not None:
            place.conflict_note = old.conflict_note
        self.places[agent.name] = place
        self._created(agent.name, copy, list(start.merged))
        if self._watch:
            await self._start_watching(agent.name, place)
        return place

    async def _start_watching(self, name: str, place: AgentPlace) -> None:
        from counterpoint.engine.watch import FileSignalSource

        def fire_file(signal: str, metadata: dict[str, Any]) -> None:
            asyncio.get_running_loop().create_task(
                self.fire_with_snapshot(name, signal, {**metadata, "attribution": "copy"}),
                name=f"snapshot {name} {signal}",
            )

        source = FileSignalSource(place.root, place.spec_dir, self._signals, fire_file)
        source.add_listener(lambda changes: self.conflicts.changed(name))
        place.source = source
        await source.begin()

        async def look_once_ready() -> None:  # what it wrote before the watches were on
            with contextlib.suppress(Exception):
                await source.ready()
            self.conflicts.changed(name)

        task = asyncio.get_running_loop().create_task(look_once_ready(), name=f"watch {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop_watching(self, place: AgentPlace) -> None:
        if place.source is not None:
            try:
                await place.source.stop()
            except Exception:
                log.exception("stopping a copy's watcher failed")
            place.source = None

    async def fire_with_snapshot(self, name: str, signal: str, metadata: dict[str, Any]) -> None:
        """Commit the agent's copy, then fire ``signal`` carrying that commit."""
        place = self.places.get(name)
        if place is None or signal in self._signal_commits:
            self._fire(signal, metadata, name)
            return
        try:
            snap = await self.copies.snapshot(place.copy, f"{name}: {signal}")
        except IsolationError as exc:
            log.warning("snapshot of %s at %s failed: %s", name, signal, exc)
            self._fire(signal, metadata, name)
            return
        commit = snap.commit if snap is not None else place.copy.last_snapshot
        if snap is not None:
            self._emit(EventType.SNAPSHOT, name, signal, commit=commit, signal=signal, files=snap.files)
        self._signal_commits[signal] = commit
        await self.integration.hand_on(name, commit)
        self._fire(signal, {**metadata, "by": name, "commit": commit}, name)

    # -- the end of an agent's attempt ----------------------------------------------------------------

    async def finish(self, agent: AgentRuntime) -> None:
        """After a successful attempt: its work merged into the integration branch. Raises
        `MergeConflict` when it conflicts and ``on_conflict`` is fail or restart (or there is
        no integrator to leave it to)."""
        if agent.spec.settings.integrate and self.integration.place is not None:
            await self.integration.commit_integrator(agent.name)
            await self.recheck_conflicts()
            return
        place = self.places.get(agent.name)
        if place is None:
            return
        await self._stop_watching(place)
        snap = await self.copies.snapshot(place.copy, f"{agent.name}: done")
        if snap is not None:
            self._emit(EventType.SNAPSHOT, agent.name, "done", commit=snap.commit, files=snap.files)
        head = place.copy.last_snapshot
        await self._fire_missed(agent.name, place, head)
        conflict = await self.integration.merge_agent(agent.name, head)
        self.conflicts.agent_done(agent.name)
        if conflict is None:
            return
        policy = agent.spec.settings.on_conflict
        has_integrator = any(a.spec.settings.integrate for a in self._agents.values())
        if (
            policy == "integrator"
            and has_integrator
            and await self.integration.accept_conflicted(agent.name, head)
        ):
            self.conflicts.merge_findings(conflict_findings(conflict, lambda rel: user_path(self.repo, rel)))
            return
        if policy == "restart" and self._restarts.get(agent.name, 0) < MAX_RESTARTS:
            self._restarts[agent.name] = self._restarts.get(agent.name, 0) + 1
            place.conflict_note = conflict.message
            raise MergeConflict(conflict, restart=True)
        raise MergeConflict(conflict)

    async def _fire_missed(self, name: str, place: AgentPlace, head: str) -> None:
        """File signals its last writes fire that the watcher had not reported when it ended:
        its work (the final snapshot) decides, not the race with the watcher."""
        from counterpoint.engine.watch import SignalMatcher

        changed = await git(
            self.repo, "diff", "--name-only", "-z", "--no-renames", place.copy.start_commit, head
        )
        matcher = SignalMatcher(place.spec_dir, self._signals)
        for rel in filter(None, changed.stdout.split("\0")):
            path = place.copy.path / rel
            for signal in matcher.match(path):
                if signal not in self._signal_commits and path.is_relative_to(place.root):
                    self._signal_commits[signal] = head
                    meta = {"path": path.relative_to(place.root).as_posix(), "kind": "added"}
                    self._fire(signal, {**meta, "by": name, "attribution": "copy", "commit": head}, name)

    async def recheck_conflicts(self) -> None:
        """After an integrator's round: conflicts whose markers are gone are fixed."""
        place = self.integration.place
        if place is not None:
            await self.conflicts.recheck(place.copy.path)

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
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import AgentStatus, EventType, WorkingCopyPayload

from counterpoint.engine.isolation import (
    Repo,
    RunRefs,
    WorkingCopies,
    WorkingCopy,
    agent_env,
    capture_base,
    resolve,
)
from counterpoint.engine.run.conflicts import ConflictWatch, MergeConflict, conflict_findings
from counterpoint.engine.run.handoff import SignalHandOff
from counterpoint.engine.run.integration import INTEGRATION, Integration, user_path
from counterpoint.engine.run.observer import RunObserver
from counterpoint.engine.run.place import AgentPlace
from counterpoint.engine.run.spares import Spares
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
        self._restarts: dict[str, int] = {}
        self._restored = restored
        self._checks = checks
        self._resumed_heads: dict[str, str] = {}
        """Resumed: agent -> its branch's tip from the earlier run (its start includes it)."""
        self._removals: set[asyncio.Task[None]] = set()
        self._removed: set[str] = set()
        self.spares = Spares(self.copies, agents, self.places)
        self.conflicts = ConflictWatch(self, emit)
        self.handoff = SignalHandOff(
            repo=repo,
            copies=self.copies,
            integration=self.integration,
            signals=signals,
            emit=emit,
            fire=fire,
            changed=self.conflicts.changed,
            places=self.places,
            restored=restored_signals,
        )
        self.hand_on_signal = self.handoff.hand_on
        """(agent, signal, metadata, commit, files) -> None: a signal an agent fired with its work."""

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

    def on_agent_state(self, name: str, state: AgentStatus) -> None:
        if state.terminal and name in self.places:
            self.conflicts.agent_done(name)  # ended without a merge: its predictions go
        if state == AgentStatus.RUNNING:
            self.spares.for_followers_of(name, self.integration.tip)

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
        await self.handoff.close()
        self.conflicts.stop()
        kept = sorted(name for name in failed if name in self.places)
        if self._removals:
            await asyncio.gather(*self._removals, return_exceptions=True)
        await self.copies.close(keep=kept)
        for name in [*self.places, *([INTEGRATION] if self.integration.place else [])]:
            if name not in kept and name not in self._removed:
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
            await self.handoff.unwatch(old)
            await self.copies.remove(old.copy)
        start = await self.start_of(agent)
        copy = await self.spares.take(agent.name, start.commit) or await self.copies.create(
            agent.name, start.commit
        )
        place = self._place(copy)
        place.on_signal = lambda signal, meta: self.handoff.fire_with_snapshot(agent.name, signal, meta)
        if old is not None:
            place.conflict_note = old.conflict_note
        self.places[agent.name] = place
        self._created(agent.name, copy, list(start.merged))
        if self._watch:
            await self.handoff.watch(agent.name, place)
        return place

    async def start_of(self, agent: AgentRuntime) -> Any:
        """The tip plus the snapshots of the signals it needs (resumed: its earlier work too)."""
        needs = agent.spec.settings.needs
        wanted = self.handoff.needed(needs)
        if (earlier := self._resumed_heads.pop(agent.name, None)) is not None:
            wanted.append((agent.name, earlier))
        return await self.integration.start_point(wanted)

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
        await self.handoff.unwatch(place)
        snap = await self.copies.snapshot(place.copy, f"{agent.name}: done")
        if snap is not None:
            self._emit(EventType.SNAPSHOT, agent.name, "done", commit=snap.commit, files=snap.files)
        head = place.copy.last_snapshot
        await self.handoff.fire_missed(agent.name, place, head)
        await self.merge_work(agent, head, place)

    async def merge_work(self, agent: AgentRuntime, head: str, place: AgentPlace | None = None) -> None:
        """Its work at ``head`` merged (``place`` None: it worked elsewhere); as `finish` says."""
        conflict = await self.integration.merge_agent(agent.name, head)
        self.conflicts.agent_done(agent.name)
        if conflict is None:
            self._remove_soon(agent.name, place)
            return
        policy = agent.spec.settings.on_conflict
        has_integrator = any(a.spec.settings.integrate for a in self._agents.values())
        if (
            policy == "integrator"
            and has_integrator
            and await self.integration.accept_conflicted(agent.name, head)
        ):
            self.conflicts.merge_findings(conflict_findings(conflict, lambda rel: user_path(self.repo, rel)))
            self._remove_soon(agent.name, place)
            return
        if policy == "restart" and self._restarts.get(agent.name, 0) < MAX_RESTARTS:
            self._restarts[agent.name] = self._restarts.get(agent.name, 0) + 1
            if place is not None:  # elsewhere: the executor keeps the note
                place.conflict_note = conflict.message
            raise MergeConflict(conflict, restart=True)
        raise MergeConflict(conflict)

    def _remove_soon(self, name: str, place: AgentPlace | None) -> None:
        """Its work is merged: its copy goes now, in the background (tearing an overlay down
        takes the kernel a few hundred ms; nobody waits for it but the run's end)."""
        if place is None:
            return

        async def remove() -> None:
            await self.copies.remove(place.copy)
            self._emit(EventType.WORKING_COPY_REMOVED, name, None)
            self._removed.add(name)

        task = asyncio.get_running_loop().create_task(remove(), name=f"remove copy {name}")
        self._removals.add(task)

    async def recheck_conflicts(self) -> None:
        """After an integrator's round: conflicts whose markers are gone are fixed."""
        place = self.integration.place
        if place is not None:
            await self.conflicts.recheck(place.copy.path)

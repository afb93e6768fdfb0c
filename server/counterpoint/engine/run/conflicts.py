"""Conflicts of isolated agents: predicted while they work, and the findings of real ones.

`ConflictWatch` follows each live isolated agent's working copy: after a change (debounced), it
commits the copy's state off any branch and merges it, without touching a working copy
(``git merge-tree``), against the integration tip and against every other live agent's state. A
pair that would conflict is a ``conflict_predicted`` event; when it no longer would, a
``conflict_cleared`` event. Real conflicts (at merge) become error findings the integrator gets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from counterpoint_protocol.events import (
    ConflictFile,
    ConflictPayload,
    EventType,
    FindingPayload,
    FindingRange,
    LineSpan,
)

if TYPE_CHECKING:
    from counterpoint.engine.run.view import Emit

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.2
CHECK_NAME = "conflicts"


class LiveWork(Protocol):
    """What prediction needs of the run's isolation: the repository, the integration tip, the
    working copies (to commit their state) and the live agents' places."""

    @property
    def repo(self) -> Any: ...

    @property
    def tip(self) -> str: ...

    @property
    def copies(self) -> Any: ...

    def live_heads(self) -> Mapping[str, Any]: ...


class MergeConflict(Exception):
    """An agent's work conflicts with the integration branch (``on_conflict: fail``/``restart``)."""

    def __init__(self, payload: ConflictPayload, *, restart: bool = False) -> None:
        super().__init__(payload.message)
        self.payload = payload
        self.restart = restart
        """Run the agent again on the new tip (``on_conflict: restart``, within its bound)."""


def conflict_message(agent: str, others: list[str], files: list[ConflictFile]) -> str:
    paths = ", ".join(f.path for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return f"{agent}'s work conflicts with {' and '.join(others)}'s in {paths}"


def conflict_findings(payload: ConflictPayload, display: Callable[[str], str]) -> list[FindingPayload]:
    """One error finding per side's lines of each conflicted file, on the user's file, naming
    both sides (what the integrator is given, and what editors show)."""
    findings: list[FindingPayload] = []
    for file in payload.files:
        names = [side.agent for side in file.sides] or payload.agents
        for side in file.sides or []:
            other = next((n for n in names if n != side.agent), "the other side")
            spans: list[LineSpan | None] = list(side.lines) or [None]
            for span in spans:
                line = (span.start - 1) if span is not None else 0
                end = (span.end - 1) if span is not None else 0
                findings.append(
                    FindingPayload(
                        check=CHECK_NAME,
                        key=f"{payload.key}:{file.path}:{side.agent}:{line}",
                        severity="error",
                        message=(
                            f"merge conflict in {file.path} ({file.kind}): lines {line + 1}-{end + 1} "
                            f"of {side.agent}'s version clash with {other}'s"
                        ),
                        path=file.path,
                        line=line + 1,
                        abs_path=display(file.path),
                        range=FindingRange(line=line, end_line=end),
                        rule="merge-conflict",
                        detail=f"{side.agent} at {side.commit or '?'}",
                        builtin=True,
                    )
                )
    return findings


class ConflictWatch:
    """Predicts conflicts between live isolated agents (and the integration tip)."""

    def __init__(self, isolation: LiveWork, emit: Emit) -> None:
        self._iso = isolation
        self._emit = emit
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._states: dict[str, str] = {}
        self._files: dict[str, set[str]] = {}
        """Agent -> the files its state changed since its start."""
        """Agent -> the commit of its copy's state when last looked at."""
        self.predicted: dict[str, ConflictPayload] = {}
        """Pair key -> the conflict predicted for it now."""
        self.findings: dict[str, FindingPayload] = {}
        """Open findings of real conflicts (the integrator's to fix)."""
        self._stopped = False
        self._lock = asyncio.Lock()
        self._done: set[str] = set()
        """Agents whose work is merged or ended: no prediction names them again."""

    def changed(self, agent: str) -> None:
        """A file changed in ``agent``'s copy: look again soon (debounced)."""
        if self._stopped or agent in self._done:
            return
        loop = asyncio.get_running_loop()
        timer = self._timers.pop(agent, None)
        if timer is not None:
            timer.cancel()
        self._timers[agent] = loop.call_later(DEBOUNCE_S, self._start, agent)

    def _start(self, agent: str) -> None:
        self._timers.pop(agent, None)
        task = asyncio.get_running_loop().create_task(self.look(agent), name=f"predict {agent}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def look(self, agent: str) -> None:
        """Predict ``agent``'s conflicts now, against the tip and the other live agents."""
        from counterpoint.engine.isolation import IsolationError

        async with self._lock:  # one prediction at a time: states and pairs stay consistent
            try:
                await self._look(agent)
            except IsolationError as exc:
                log.warning("predicting conflicts of %s failed: %s", agent, exc)
            except Exception:
                log.exception("predicting conflicts of %s failed", agent)

    async def _look(self, agent: str) -> None:
        """Only pairs that touch a common file are merged: a look costs one state, one diff and
        a merge-tree per overlapping pair, not one per live agent."""
        from counterpoint.engine.isolation import predict

        live = self._iso.live_heads()
        place = live.get(agent)
        if place is None or self._stopped:
            return
        state = await self._iso.copies.state(place.copy)
        self._states[agent] = state
        mine = self._files[agent] = await self._changed(place.copy.start_commit, state)
        tip = self._iso.tip
        pairs: list[tuple[str, str]] = [("integration", tip)]
        pairs += [(other, self._states[other]) for other in live if other != agent and other in self._states]
        for other, theirs in pairs:
            if other == "integration":
                overlap = mine & (
                    await self._changed(place.copy.start_commit, tip)
                    if tip != place.copy.start_commit
                    else set()
                )
            else:
                overlap = mine & self._files.get(other, set())
            files = (
                await predict(self._iso.repo, state, theirs, ours_label=agent, theirs_label=other)
                if overlap
                else []
            )
            self._update(_pair(agent, other), [agent, other], files)

    async def _changed(self, start: str, commit: str) -> set[str]:
        from counterpoint.engine.isolation import git

        out = await git(self._iso.repo, "diff", "--name-only", "-z", "--no-renames", start, commit)
        return set(filter(None, out.stdout.split("\0")))

    def _update(self, key: str, agents: list[str], files: list[ConflictFile]) -> None:
        if self._done.intersection(agents):
            return  # a look that began before one side was done: its answer is stale
        before = self.predicted.get(key)
        if not files:
            if before is not None:
                del self.predicted[key]
                self._emit(EventType.CONFLICT_CLEARED, agents[0], key, key=key, agents=before.agents)
            return
        payload = ConflictPayload(
            key=key, agents=agents, files=files, message=conflict_message(agents[0], agents[1:], files)
        )
        if before is not None and before.files == payload.files:
            return
        self.predicted[key] = payload
        self._emit(
            EventType.CONFLICT_PREDICTED, agents[0], ",".join(f.path for f in files), **payload.metadata()
        )

    def agent_done(self, agent: str) -> None:
        """``agent`` merged or ended: its pairs are cleared (a merge conflict is reported apart)."""
        self._done.add(agent)
        self._states.pop(agent, None)
        timer = self._timers.pop(agent, None)
        if timer is not None:
            timer.cancel()
        for key in [k for k, p in self.predicted.items() if agent in p.agents]:
            payload = self.predicted.pop(key)
            self._emit(EventType.CONFLICT_CLEARED, agent, key, key=key, agents=payload.agents)
        # The tip moved: the others' predictions against it are looked at again.
        for other in self._iso.live_heads():
            if other != agent:
                self.changed(other)

    def merge_findings(self, findings: list[FindingPayload]) -> None:
        """Real conflicts: reported like a check's findings (``conflicts``), open until fixed."""
        self.findings.update((f.key, f) for f in findings)
        self._publish("merge conflict")

    def _publish(self, reason: str) -> None:
        open_ = list(self.findings.values())
        self._emit(EventType.CHECK_STARTED, CHECK_NAME, reason, run=1, command="git merge")
        for finding in open_:
            self._emit(EventType.FINDING, CHECK_NAME, finding.message, **finding.metadata())
        self._emit(
            EventType.CHECK_FINISHED,
            CHECK_NAME,
            "failed" if open_ else "passed",
            findings=len(open_),
            errors=len(open_),
            warnings=0,
            keys=[f.key for f in open_],
        )

    async def recheck(self, copy_top: Path) -> None:
        """After an integrator's work: a conflict is fixed when its file has no markers left."""
        if not self.findings:
            return

        def still_marked(rel: str) -> bool:
            try:
                text = (copy_top / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return False
            return any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in text.splitlines())

        paths = {f.path for f in self.findings.values() if f.path}
        marked = {p for p in paths if await asyncio.to_thread(still_marked, p)}
        self.findings = {k: f for k, f in self.findings.items() if f.path in marked}
        self._publish("integrator done")

    def open_findings(self) -> list[FindingPayload]:
        return list(self.findings.values())

    def stop(self) -> None:
        """The run ends: no more looks; what is still predicted is cleared."""
        for key, payload in list(self.predicted.items()):
            self._emit(EventType.CONFLICT_CLEARED, payload.agents[0], key, key=key, agents=payload.agents)
        self.predicted.clear()
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()


def _pair(a: str, b: str) -> str:
    return "predict:" + "+".join(sorted((a, b)))

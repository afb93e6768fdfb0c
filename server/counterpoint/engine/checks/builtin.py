"""Built-in integration checks, with no configuration.

- An agent that declared ``emits: X`` and finished without X firing: a warning on that item.
- A waiting agent whose needed signal can no longer fire: an error on that ``needs`` item
  (the scheduler blocks the agent at once).
- Two agents of one run wrote the same file: a warning on the file naming both. Writes
  through Counterpoint's tools are attributed exactly; for command agents, file events seen
  while they ran are used, and the finding says when that attribution is uncertain.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from counterpoint_protocol.events import AgentStatus, EventType, FindingPayload, FindingRange
from counterpoint_protocol.spec import SourceRange

from counterpoint.engine.checks.findings import Severity

if TYPE_CHECKING:
    from counterpoint.engine.run.view import RunView
    from counterpoint.engine.watch import FileChange

CHECK_NAME = "integration"
EMIT_GRACE_S = 0.5
"""A signal whose file was just written may reach us a few ms after the agent ends."""
OWN_WRITE_S = 2.0
"""A file event this soon after a tool wrote the file is that write (already attributed)."""


class BuiltinChecks:
    """The built-in checks of one run, fed by its `CheckManager` (a run observer)."""

    def __init__(self, run: RunView) -> None:
        self.run = run
        self.findings: dict[str, FindingPayload] = {}
        self._sole: dict[str, str] = {}
        """relative path -> the one agent that wrote it, known exactly (most paths: one entry each,
        however often they are rewritten)."""
        self.writers: dict[str, dict[str, bool]] = {}
        """relative path -> agent -> exact (True: wrote through our tools), for the paths with more
        than one possible writer."""
        self._tool_writes: OrderedDict[str, float] = OrderedDict()
        """relative path -> when a tool last wrote it, for the last `OWN_WRITE_S` only (oldest first)."""
        self._uncertain_changes: dict[str, int] = {}
        """relative path -> changes seen while more than one command agent was running."""
        self._pending: set[asyncio.Task[None]] = set()
        """Emits checks waiting out their grace period."""

    def open_findings(self) -> list[FindingPayload]:
        return list(self.findings.values())

    def _report(self, key: str, path: str, source: SourceRange, severity: Severity, message: str) -> None:
        if key in self.findings:
            return
        finding = FindingPayload(
            check=CHECK_NAME,
            builtin=True,
            key=key,
            abs_path=path,
            path=path,
            line=source.line + 1,
            range=FindingRange.model_validate(source.model_dump()),
            severity=severity,
            message=message,
            rule=key.split(":", 1)[0],
        )
        self.findings[key] = finding
        self.run.emit(EventType.FINDING, CHECK_NAME, message, **finding.metadata())

    # -- agents ------------------------------------------------------------------------------------

    def agent_finished(self, name: str) -> None:
        agent = self.run.agent(name)
        if agent is None:
            return
        if agent.state == AgentStatus.BLOCKED:
            for need in sorted(agent.waiting_on):
                source = agent.spec.item_ranges.get("needs", {}).get(need)
                if source is not None and not self.run.can_still_fire(need):
                    self._report(
                        f"unreachable-need:{name}:{need}",
                        self.run.spec.path,
                        source,
                        "error",
                        f"{name} needs {need}, which can no longer fire: {self.run.why_dead(need)}",
                    )
        elif agent.state == AgentStatus.SUCCEEDED and agent.spec.settings.emits:
            task = self.run.spawn(self._check_emits_later(name), name=f"emits of {name}")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait for the emits checks still in their grace period (the run waits before it ends)."""
        while self._pending:
            await asyncio.wait(list(self._pending))

    async def _check_emits_later(self, name: str) -> None:
        await asyncio.sleep(EMIT_GRACE_S)
        self._check_emits(name)

    def _check_emits(self, name: str) -> None:
        agent = self.run.agent(name)
        if agent is None:
            return
        for signal in agent.spec.settings.emits:
            if self.run.fired(signal) or signal in agent.fired:
                continue
            source = agent.spec.item_ranges.get("emits", {}).get(signal) or agent.spec.heading_range
            self._report(
                f"never-emitted:{name}:{signal}",
                self.run.spec.path,
                source,
                "warning",
                f"{name} declared `emits: {signal}` but finished without firing it",
            )

    # -- shared files ------------------------------------------------------------------------------

    def tool_write(self, actor: str, rel_path: str) -> None:
        now = time.monotonic()
        recent = self._tool_writes
        recent[rel_path] = now
        recent.move_to_end(rel_path)
        while recent:
            _path, at = next(iter(recent.items()))
            if now - at < OWN_WRITE_S:
                break
            recent.popitem(last=False)
        self._add_writer(rel_path, actor, exact=True)

    def files_changed(self, changes: list[FileChange]) -> None:
        running = [name for name in self.run.running("command") if not self._isolated(name)]
        if not running:
            return
        now = time.monotonic()
        for change in changes:
            if change.kind == "deleted":
                continue
            try:
                rel = change.path.relative_to(self.run.spec_dir).as_posix()
            except ValueError:
                continue
            if now - self._tool_writes.get(rel, -10.0) < OWN_WRITE_S:
                continue  # our own tools wrote it: already attributed exactly
            if len(running) == 1:
                self._add_writer(rel, running[0], exact=True)
            else:
                self._uncertain_changes[rel] = self._uncertain_changes.get(rel, 0) + 1
                writers = self._writers_of(rel)
                for agent in running:
                    writers[agent] = writers.get(agent, False)
                self._check_shared(rel)

    def _isolated(self, name: str) -> bool:
        """Works in a copy of its own: what changes in the workspace is not its."""
        agent = self.run.agent(name)
        return agent is not None and agent.spec.settings.isolation == "worktree"

    def _add_writer(self, rel: str, agent: str, *, exact: bool) -> None:
        if rel not in self.writers and exact:
            sole = self._sole.get(rel)
            if sole is None:
                self._sole[rel] = sys.intern(agent)
                return  # one writer: nothing shared
            if sole == agent:
                return
        writers = self._writers_of(rel)
        writers[agent] = writers.get(agent, False) or exact
        self._check_shared(rel)

    def _writers_of(self, rel: str) -> dict[str, bool]:
        """The writers of ``rel`` as agent -> exact (a sole writer becomes the first entry)."""
        writers = self.writers.get(rel)
        if writers is None:
            sole = self._sole.pop(rel, None)
            writers = self.writers[rel] = {sole: True} if sole is not None else {}
        return writers

    def _check_shared(self, rel: str) -> None:
        writers = self.writers.get(rel, {})
        if len(writers) < 2:
            return
        exact = sum(1 for known in writers.values() if known)
        if exact + self._uncertain_changes.get(rel, 0) < 2:
            return  # one change seen while several command agents ran: one of them wrote it
        names = sorted(writers)
        uncertain = [n for n in names if not writers[n]]
        message = f"{rel} was written by more than one agent: {', '.join(names)}"
        if uncertain:
            message += f" (uncertain for {', '.join(uncertain)}: command agents running at the same time)"
        if self._integrator_fixing(names):
            return
        self._report(
            f"shared-file:{rel}:{','.join(names)}",
            str((self.run.spec_dir / rel).resolve()),
            SourceRange.on_line(0, 0, 10_000),
            "warning",
            message,
        )

    def _integrator_fixing(self, names: list[str]) -> bool:
        """The integrator editing what others wrote is its job, not an integration issue."""
        others = [n for n in names if not ((agent := self.run.agent(n)) and agent.spec.settings.integrate)]
        return len(others) < 2

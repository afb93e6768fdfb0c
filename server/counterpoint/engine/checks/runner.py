"""Running a spec's checks while the agents work, and keeping the open findings.

A check runs as soon as every signal in its ``after`` has fired, and again
(debounced, never overlapping itself) whenever a file matching its ``watch``
globs changes. Each run is a ``check_started`` event, one ``finding`` event per
finding and a ``check_finished`` event with counts; checks are workspace
commands, so they need the same consent as command agents.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import AgentStatus, EventType, FindingPayload, FindingRange
from counterpoint_protocol.spec import CheckSpec, SourceRange

from counterpoint.engine.checks.builtin import BuiltinChecks
from counterpoint.engine.checks.findings import Finding
from counterpoint.engine.checks.integrator import integrate
from counterpoint.engine.checks.parsers import parse_output
from counterpoint.engine.process import child_env, run_process
from counterpoint.engine.run import Run
from counterpoint.engine.run.observer import RunChecks
from counterpoint.engine.run.state import AgentRuntime
from counterpoint.engine.run.view import RunView
from counterpoint.engine.watch import SignalMatcher
from counterpoint.engine.workspace import ConsentDenied, UnsafePath, confine

if TYPE_CHECKING:
    from counterpoint.engine.runners.base import AgentContext
    from counterpoint.engine.watch import FileChange

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.3
WATCH_SETTLE_S = 0.15
"""How long the watcher may take to report a write (its own debounce is a few tens of ms)."""
MAX_OUTPUT_LINES = 20_000
DEFAULT_TIMEOUT_S = 600.0


def finding_metadata(
    finding: Finding,
    base: Path,
    check_range: SourceRange,
    spec_path: str,
    display: Callable[[Path], Path] = lambda path: path,
) -> FindingPayload:
    """A finding as an event's payload: the tool's fields plus an absolute path and a 0-based range."""
    meta = finding.to_metadata()
    if finding.path is None or finding.line is None:
        meta["abs_path"] = spec_path
        meta["range"] = check_range.model_dump()
        return FindingPayload.model_validate(meta)
    path = Path(finding.path)
    meta["abs_path"] = str(display(path if path.is_absolute() else (base / path).resolve()))
    line = max(finding.line - 1, 0)
    col = max((finding.col or 1) - 1, 0)
    end_line = max((finding.end_line or finding.line) - 1, line)
    end_col = (finding.end_col - 1) if finding.end_col else (col + 1 if finding.col else 10_000)
    meta["range"] = FindingRange(line=line, col=col, end_line=end_line, end_col=max(end_col, col))
    return FindingPayload.model_validate(meta)


@dataclass
class CheckState:
    spec: CheckSpec
    matcher: SignalMatcher | None
    eligible: bool = False
    running: bool = False
    rerun: bool = False
    runs: int = 0
    findings: list[FindingPayload] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = None
    last_output: list[str] = field(default_factory=list)
    started_wall: float = 0.0
    changed_while_running: set[Path] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.spec.settings.name


class CheckManager(RunChecks):
    """The checks of one run: it follows the run as an observer, through a `RunView`."""

    def __init__(self, run: RunView) -> None:
        self.run = run
        self.spec_dir = Path(run.spec.path).parent
        self.states: dict[str, CheckState] = {}
        for check in run.spec.checks:
            watch = check.settings.watch
            matcher = SignalMatcher(self.spec_dir, {"watch": list(watch)}) if watch else None
            self.states[check.settings.name] = CheckState(check, matcher)
        self._idle = asyncio.Event()
        self._idle.set()
        self.builtin = BuiltinChecks(run)
        self.extra_findings: list[Callable[[], list[FindingPayload]]] = []
        """Other open findings the integrator must fix (an isolated run's merge conflicts)."""
        self.extra_rechecks: list[Callable[[], Awaitable[None]]] = []
        """Looked at again with the checks after each integrator round."""

    # -- triggers (the run's observer) --------------------------------------------------------------

    def on_run_started(self) -> None:
        for state in self.states.values():
            self._maybe_eligible(state)

    def on_signal(self, name: str, metadata: dict[str, Any]) -> None:
        for state in self.states.values():
            if name in state.spec.settings.after:
                self._maybe_eligible(state)

    def on_agent_state(self, name: str, state: AgentStatus) -> None:
        if state.terminal:
            self.builtin.agent_finished(name)

    def on_write(self, actor: str, path: str) -> None:
        agent = self.run.agent(actor)
        if agent is not None and agent.spec.settings.isolation == "worktree":
            return  # in a copy of its own: writers of one file meet at the merge, not here
        self.builtin.tool_write(actor, path)

    def _maybe_eligible(self, state: CheckState) -> None:
        if state.eligible or self.run.cancelled:
            return
        if all(self.run.fired(signal) for signal in state.spec.settings.after):
            state.eligible = True
            self.schedule(
                state,
                reason="after: " + (", ".join(state.spec.settings.after) or "run started"),
                delay=0,
            )

    def on_files_changed(self, changes: list[FileChange]) -> None:
        self.builtin.files_changed(changes)
        for state in self.states.values():
            if not state.eligible or state.matcher is None:
                continue
            hits = [c for c in changes if state.matcher.match(c.path)]
            if not hits:
                continue
            if state.running:
                state.changed_while_running.update(c.path for c in hits)
            else:
                self.schedule(state, reason=f"changed: {hits[0].path.name}")

    def schedule(self, state: CheckState, *, reason: str, delay: float = DEBOUNCE_S) -> None:
        """Run the check soon; a burst of triggers becomes one run, and runs never overlap."""
        if self.run.cancelled:
            return
        self._idle.clear()
        if state.running:
            state.rerun = True
            return
        self._arm(state, reason, delay)

    def _arm(self, state: CheckState, reason: str, delay: float) -> None:
        if state.timer is not None:
            state.timer.cancel()
        loop = asyncio.get_running_loop()
        state.timer = loop.call_later(delay, self._start, state, reason)

    def _start(self, state: CheckState, reason: str) -> None:
        state.timer = None
        if self.run.cancelled or state.running:
            self._update_idle()
            return
        state.running = True
        state.task = self.run.spawn(self._execute(state, reason), name=f"check {state.name}")

    # -- running ---------------------------------------------------------------------------------

    async def _execute(self, state: CheckState, reason: str) -> None:
        settings = state.spec.settings
        state.runs += 1
        started = time.monotonic()
        state.started_wall = time.time()
        state.changed_while_running.clear()
        self.run.emit(EventType.CHECK_STARTED, settings.name, reason, run=state.runs, command=settings.run)
        findings: list[FindingPayload] = []
        status = "error"
        exit_code: int | None = None
        problems: list[str] = []
        try:
            where = self.run.checks_dir or self.spec_dir
            report = await asyncio.to_thread(_report_file, settings.format, where, self.run.root)
            await self.run.consent.require(settings.run)
            if report is not None:
                await asyncio.to_thread(report.unlink, missing_ok=True)
            out: list[str] = []
            err: list[str] = []
            wall_start = time.time()
            result = await run_process(
                settings.run,
                cwd=where,
                env=child_env(),
                on_stdout=lambda line: _append(out, line),
                on_stderr=lambda line: _append(err, line),
                timeout=settings.timeout or DEFAULT_TIMEOUT_S,
            )
            exit_code = result.exit_code
            parsed = await asyncio.to_thread(
                parse_output,
                settings.format,
                stdout="\n".join(out),
                stderr="\n".join(err),
                cwd=where,
                exit_code=exit_code,
                check=settings.name,
                not_before=wall_start - 1,
            )
            state.last_output = (out + err)[-200:]
            problems = parsed.problems
            findings = await asyncio.to_thread(  # resolving paths touches the disk: off the loop
                lambda: [
                    finding_metadata(f, where, state.spec.range, self.run.spec.path, self.run.display)
                    for f in parsed.findings
                ]
            )
            status = "passed" if exit_code == 0 and not findings and not problems else "failed"
        except (ConsentDenied, UnsafePath) as exc:
            problems = [str(exc)]
        except TimeoutError:
            problems = [f"timed out after {settings.timeout or DEFAULT_TIMEOUT_S:g} s"]
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception as exc:  # never let a check take the run down
            log.exception("check %s crashed", settings.name)
            problems = [f"{type(exc).__name__}: {exc}"]
        finally:
            for problem in problems:
                findings.append(
                    FindingPayload(
                        check=settings.name,
                        path=None,
                        line=None,
                        severity="error",
                        message=f"check {settings.name}: {problem}",
                        rule="check-problem",
                        key=f"{settings.name}:problem:{problem[:60]}",
                        abs_path=self.run.spec.path,
                        range=FindingRange.model_validate(state.spec.range.model_dump()),
                    )
                )
            if status != "cancelled":
                for finding in findings:
                    self.run.emit(EventType.FINDING, settings.name, finding.message, **finding.metadata())
            state.findings = findings if status != "cancelled" else state.findings
            errors = sum(1 for f in findings if f.severity == "error")
            self.run.emit(
                EventType.CHECK_FINISHED,
                settings.name,
                status,
                exit_code=exit_code,
                findings=len(findings),
                errors=errors,
                warnings=sum(1 for f in findings if f.severity == "warning"),
                keys=[f.key for f in findings],
                duration_s=round(time.monotonic() - started, 3),
                output="\n".join(state.last_output[-20:]),
            )
            state.running = False
            stale = await asyncio.to_thread(_changed_since, state.changed_while_running, state.started_wall)
            if (state.rerun or stale) and not self.run.cancelled and status != "cancelled":
                self._arm(state, "changed while running", DEBOUNCE_S)
            state.rerun = False
            self._update_idle()

    def _update_idle(self) -> None:
        busy = any(s.running or s.timer is not None for s in self.states.values())
        if not busy:
            self._idle.set()

    # -- for the run and the integrator ----------------------------------------------------------

    async def wait_idle(self) -> None:
        """Wait until no check is running or due to run.

        A file written just before this call reaches us through the watcher a few ms later:
        give it that time first, so a watched check reruns on what the agents wrote last.
        """
        if self.run.watching and any(s.eligible and s.matcher is not None for s in self.states.values()):
            await asyncio.sleep(WATCH_SETTLE_S)
        await self.builtin.settle()
        await self._idle.wait()

    def has_checks(self) -> bool:
        return bool(self.states) or bool(self.extra_findings)

    def open_findings(self) -> list[FindingPayload]:
        found = [f for state in self.states.values() for f in state.findings]
        return found + self.builtin.open_findings() + [f for more in self.extra_findings for f in more()]

    def open_errors(self) -> list[FindingPayload]:
        return [f for state in self.states.values() for f in state.findings if f.severity == "error"]

    async def integrate(self, agent: AgentRuntime, context: Callable[[], AgentContext]) -> None:
        await integrate(self, self.run, agent, context)

    async def rerun_all(self, reason: str) -> None:
        for state in self.states.values():
            if state.eligible:
                state.rerun = state.rerun or state.running
                if not state.running:
                    self._idle.clear()
                    self._arm(state, reason, 0)
        for recheck in self.extra_rechecks:
            await recheck()
        await self.wait_idle()

    def cancel(self) -> None:
        for state in self.states.values():
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
            if state.task is not None and not state.task.done():
                state.task.cancel()
        self._idle.set()

    def findings_text(self) -> str:
        """The open findings as a task for the integrator: file, line, message, check output."""
        lines = []
        for state in self.states.values():
            if not state.findings:
                continue
            lines.append(f"## Check `{state.name}` (`{state.spec.settings.run}`)")
            for f in state.findings:
                where = f.path or "(no location)"
                if f.line:
                    where += f":{f.line}"
                lines.append(f"- {where}: {f.severity}: {f.message}")
                if f.detail:
                    lines.append("  ```\n  " + f.detail[:1500].replace("\n", "\n  ") + "\n  ```")
            if state.last_output:
                lines.append("Output (last lines):\n```\n" + "\n".join(state.last_output[-30:]) + "\n```")
        for f in self.builtin.open_findings():
            lines.append(f"- integration: {f.message}")
        return "\n".join(lines)


def _changed_since(paths: set[Path], since: float) -> bool:
    """Whether any of these files was modified (or removed) after ``since`` (wall clock)."""
    for path in paths:
        try:
            if path.stat().st_mtime > since:
                return True
        except FileNotFoundError:
            return True
    return False


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
"""Colour and terminal codes (FORCE_COLOR=1 makes tools print them even into a pipe)."""


def _append(buffer: list[str], line: str) -> None:
    if len(buffer) < MAX_OUTPUT_LINES:
        buffer.append(ANSI_ESCAPE.sub("", line))


def _report_file(format_spec: str, base: Path, root: Path) -> Path | None:
    """The report file of ``format: junit:<file>``; UnsafePath if it is outside the workspace."""
    kind, _, name = format_spec.partition(":")
    if kind in ("junit", "sarif") and name:
        return confine(base / name, root, f"{kind} report file")
    return None


def attach_checks(run: Run) -> CheckManager:
    """Attach the spec's checks and the built-in integration checks to ``run``."""
    manager = CheckManager(run.view)
    if run.isolation is not None:
        manager.extra_findings.append(run.isolation.conflicts.open_findings)
        manager.extra_rechecks.append(run.isolation.recheck_conflicts)
    run.checks = manager
    run.observe(manager)
    return manager

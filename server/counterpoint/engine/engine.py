"""The engine of one workspace: its event log, its live runs, and the reports they leave.

The CLI and the language server are two thin faces over this class.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiofiles
from counterpoint_protocol.events import Event
from counterpoint_protocol.spec import Spec

from counterpoint.engine.log import EventLog, open_event_log
from counterpoint.engine.process import TaskSpawner
from counterpoint.engine.report import build_report, log_pages, render_markdown
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.run.lock import SpecLock, try_lock
from counterpoint.engine.spec import load_spec
from counterpoint.engine.workspace import STATE_DIR
from counterpoint.engine.workspace import find_workspace_root as find_workspace_root  # for the LSP face

if TYPE_CHECKING:
    from counterpoint_protocol.messages import ApplyResult, DiffResult, DiscardResult

    from counterpoint.engine.isolation.review import RunReview

log = logging.getLogger(__name__)


async def read_spec(path: Path, *, check_files: bool = True) -> Spec:
    async with aiofiles.open(path, encoding="utf-8", errors="replace") as fh:
        text = await fh.read()
    resolved = await asyncio.to_thread(path.resolve)
    return await asyncio.to_thread(load_spec, text, resolved, check_files=check_files)


class Engine:
    """Owns the event log and the runs of one workspace root."""

    def __init__(self, root: Path, event_log: EventLog) -> None:
        self.root = root
        self.log = event_log
        self.runs: dict[str, Run] = {}
        self.spawner = TaskSpawner(f"engine {root}")
        self._claims: dict[str, SpecLock] = {}
        """Spec locks taken by `ensure_no_live_run`, by spec path (as given and resolved)."""
        self._locks: dict[str, SpecLock] = {}
        """The spec lock each run holds, by run id, released when the run ends."""
        event_log.on_failure(self._log_failed)

    def _log_failed(self, error: Exception) -> None:
        """The log cannot record any more (a full disk): stop the runs rather than lose their events."""
        for run in self.live_runs():
            log.info("stopping run %s: %s", run.run_id, error)
            run.cancel()

    @classmethod
    async def open(cls, root: Path) -> Engine:
        """The engine of the workspace at ``root``, on the event log its user configured (the
        workspace's SQLite file, or a PostgreSQL database: `open_event_log`)."""
        return cls(root, await open_event_log(root))

    def live_runs(self) -> list[Run]:
        return [r for r in self.runs.values() if r.live]

    def live_run_for(self, spec_path: str) -> Run | None:
        return next((r for r in self.live_runs() if r.spec.path == spec_path), None)

    async def start_run(
        self, spec: Spec, options: RunOptions | None = None, *, run_id: str | None = None
    ) -> Run:
        """The one door to a new run, for both faces: refuse a spec with errors (`SpecHasErrors`),
        unknown agents (`UnknownAgents`), a spec live here or in another process (`RunRefused`);
        read the user's settings into the options; create the run with its checks. The options
        are complete from here on. Then `execute` it (or `start` it in the background)."""
        options = options or RunOptions()
        check_startable(spec, options)
        await self.ensure_no_live_run(spec.path)
        try:
            if options.user_settings is None:
                from counterpoint.engine.workspace import load_user_settings

                settings = await asyncio.to_thread(load_user_settings, self.root)
                options = dataclasses.replace(options, user_settings=settings)
            if options.repo is None and wants_isolation(spec, options):
                from counterpoint.engine.isolation import IsolationError, open_repo, prune

                try:
                    repo = await open_repo(self.root)
                except IsolationError as exc:
                    raise RunRefused(f"isolation: worktree: {exc}") from exc
                await prune(self.root, {r.run_id for r in self.live_runs()})
                options = dataclasses.replace(options, repo=repo)
            return self.create_run(spec, options, run_id=run_id)
        except BaseException:
            await self.release_claim(spec.path)
            raise

    def create_run(self, spec: Spec, options: RunOptions | None = None, *, run_id: str | None = None) -> Run:
        """A run with its checks, without the pre-flight of `start_run` (tests, benchmarks)."""
        live = self.live_run_for(spec.path)
        if live is not None:
            raise RunRefused(
                f"a run of this spec is already live ({live.run_id}): cancel it or wait for it to end"
            )
        if run_id is not None and run_id in self.runs:
            del self.runs[run_id]

        run = Run(spec, self.log, self.root, options, run_id=run_id)
        claim = self._claims.get(str(spec.path))
        if claim is not None:
            self._locks[run.run_id] = claim
            run.spec_lock = claim
            for key in [k for k, v in self._claims.items() if v is claim]:
                del self._claims[key]
        from counterpoint.engine.checks.runner import attach_checks

        attach_checks(run)
        self.runs[run.run_id] = run
        return run

    async def execute(self, run: Run) -> dict[str, Any]:
        """Run to the end and write the report; returns the report."""
        lock = self._locks.get(run.run_id)
        try:
            if lock is not None:
                await asyncio.to_thread(lock.set_run, run.run_id)
            await run.execute()
        finally:
            try:
                report = await self.write_report(run.run_id)
            finally:
                if self._locks.get(run.run_id) is lock:
                    self._locks.pop(run.run_id, None)
                if lock is not None:
                    await asyncio.to_thread(lock.release)
                self._forget_older_runs(run)
        return report

    def _forget_older_runs(self, run: Run) -> None:
        """Keep only ``run`` of its spec's finished runs (editors show the latest): an engine lives
        for many runs, and the others' history is in the log (report, rerun, resume read it)."""
        live = {r.run_id for r in self.live_runs()}
        for old in [r for r in self.runs.values() if r is not run and r.spec.path == run.spec.path]:
            if old.run_id not in live:
                del self.runs[old.run_id]

    def start(self, run: Run) -> asyncio.Task[dict[str, Any]]:
        """Execute in the background (for the language server)."""
        return self.spawner.spawn(self.execute(run), name=f"run {run.run_id}")

    async def ensure_no_live_run(self, spec_path: str | Path) -> None:
        """Take the spec's lock for the next run of it, or refuse (`RunRefused`) when it is live.

        The lock (see `spec_lock`) is an OS lock taken atomically: of several processes starting
        the same spec at once, exactly one gets it, and the kernel frees it when its holder dies.
        The next `create_run` of the spec in this engine takes it over, for the run's life. Rows
        of the ``runs`` table still ``running`` for this spec are then stale (their process died
        or lost the lock): they are marked ``interrupted``.
        """
        wanted = await asyncio.to_thread(_resolved, spec_path)
        live = self.live_run_for(str(spec_path)) or self.live_run_for(str(wanted))
        if live is not None:
            raise RunRefused(
                f"a run of this spec is already live ({live.run_id}): cancel it or wait for it to end"
            )
        if str(wanted) not in self._claims:
            got = await asyncio.to_thread(try_lock, self.root / STATE_DIR, wanted)
            if not isinstance(got, SpecLock):
                run = f"run {got.run_id}, " if got.run_id else ""
                pid = f"pid {got.pid}" if got.pid is not None else "pid unknown"
                raise RunRefused(
                    f"a run of this spec is already live in another process ({run}{pid}): "
                    "cancel it or wait for it to end"
                )
            self._claims[str(wanted)] = got
        self._claims[str(spec_path)] = self._claims[str(wanted)]
        mine = {r.run_id for r in self.live_runs()}
        for record in await self.log.running_runs():
            if record.run_id in mine or await asyncio.to_thread(_resolved, record.spec) != wanted:
                continue
            log.info("run %s of a dead process (pid %s): marked interrupted", record.run_id, record.pid)
            await self.log.finish_run(record.run_id, "interrupted")

    async def release_claim(self, spec_path: str | Path) -> None:
        """Give back a lock `ensure_no_live_run` took when no run follows (the start failed)."""
        wanted = await asyncio.to_thread(_resolved, spec_path)
        claim = self._claims.get(str(wanted)) or self._claims.get(str(spec_path))
        if claim is None:
            return
        for key in [k for k, v in self._claims.items() if v is claim]:
            del self._claims[key]
        await asyncio.to_thread(claim.release)

    async def continue_run(
        self, run_id: str, *, reason: str, agent: str | None = None, options: RunOptions | None = None
    ) -> Run:
        """A run that continues ``run_id`` from its log: ``resume`` (everything not yet succeeded)
        or ``rerun`` (``agent`` and what was blocked by it). Signals and successes are restored."""
        if run_id in self.runs and self.runs[run_id].live:
            raise RunRefused(f"run {run_id} is still live")
        events = await self.log.query(run_id)
        started = next((e for e in events if e.type == "run_started"), None)
        if started is None:
            raise RunRefused(f"no such run: {run_id}")
        await self.ensure_no_live_run(started.metadata["spec"])
        try:
            return await self._continue(run_id, events, started, reason, agent, options)
        except BaseException:
            await self.release_claim(started.metadata["spec"])
            raise

    async def _continue(
        self,
        run_id: str,
        events: list[Event],
        started: Event,
        reason: str,
        agent: str | None,
        options: RunOptions | None,
    ) -> Run:
        spec = await read_spec(Path(started.metadata["spec"]))
        if spec.has_errors:
            raise RunRefused(f"{spec.path} has errors now; fix them first")
        status: dict[str, str] = {}
        signals: dict[str, dict[str, Any]] = {}
        for event in events:
            if event.type == "agent_finished" and event.actor:
                status[event.actor] = event.action or "failed"
            elif event.type == "agent_started" and event.actor:
                status[event.actor] = "running"
            elif event.type == "signal" and event.action:
                signals.setdefault(event.action, event.metadata)
        in_run = list(started.metadata.get("agents", []))
        succeeded = {name for name in in_run if status.get(name) == "succeeded"}
        if agent is not None:
            if spec.agent(agent) is None:
                raise RunRefused(f"no agent {agent!r} in {spec.path}")
            chosen = {agent} | dependents(spec, agent)
            chosen -= succeeded - {agent}
        else:
            chosen = set(in_run) - succeeded
        if not chosen:
            raise RunRefused(f"nothing to {reason}: every agent of run {run_id} succeeded")
        options = dataclasses.replace(
            options or RunOptions(),
            agents=[a.name for a in spec.agents if a.name in chosen],
            exact=True,
            completed_agents=succeeded - chosen,
            restored_signals=signals,
            resumed=reason,
            restored_isolation=started.metadata.get("isolation"),
        )
        return await self.start_run(spec, options, run_id=run_id)

    async def events(self, run_id: str | None = None, type: str | None = None, **kw: Any) -> list[Event]:
        return await self.log.query(run_id, type, **kw)

    async def resolve_run_id(self, run: str | None) -> str | None:
        if run and run != "last":
            return run
        runs = await self.log.runs(1)
        return runs[0].run_id if runs else None

    async def write_report(self, run_id: str) -> dict[str, Any]:
        """Build (one pass over the log, a page at a time, in a thread) and save the run's report."""
        read = self.log.read_events

        def build() -> dict[str, Any]:
            pages = log_pages(lambda after, limit: read(run_id, after_id=after, limit=limit))
            return save_report(self.root, run_id, build_report(pages))

        return await self.log.read_in_thread(build)

    async def aclose(self) -> None:
        for run in self.live_runs():
            run.cancel()
        await self.spawner.aclose(timeout=15)
        for lock in {id(v): v for v in [*self._claims.values(), *self._locks.values()]}.values():
            await asyncio.to_thread(lock.release)
        self._claims.clear()
        self._locks.clear()
        await self.log.close()
        if "counterpoint.engine.isolation" in sys.modules:  # folders isolated runs moved aside
            from counterpoint.engine.isolation import wait_for_trash

            await asyncio.to_thread(wait_for_trash)

    # -- isolated runs: review, apply, discard (isolation/review.py does the work) -------------------

    def review(self) -> RunReview:
        """Diff, apply, discard and show files of this workspace's isolated runs (refusals: `RunRefused`)."""
        from counterpoint.engine.isolation.review import RunReview
        from counterpoint.engine.run.lock import pid_alive

        def live(run_id: str, pid: int | None) -> bool:
            run = self.runs.get(run_id)
            return run.live if run is not None else pid is not None and pid != os.getpid() and pid_alive(pid)

        return RunReview(self.root, self.log.query, live, RunRefused)

    async def diff_run(self, run_id: str, agent: str | None = None, *, patch: bool = False) -> DiffResult:
        return await self.review().diff(run_id, agent, patch=patch)

    async def apply_run(self, run_id: str) -> ApplyResult:
        return await self.review().apply(run_id)

    async def discard_run(self, run_id: str) -> DiscardResult:
        return await self.review().discard(run_id)


def save_report(root: Path, run_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """Write the report's JSON, Markdown and HTML under the run's folder (blocking); adds ``files``."""
    from counterpoint.engine.report import render_html

    folder = root / STATE_DIR / "runs" / run_id
    html = render_html(report)
    markdown = render_markdown(report)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (folder / "report.md").write_text(markdown)
    (folder / "report.html").write_text(html)
    report["files"] = {
        "json": str(folder / "report.json"),
        "md": str(folder / "report.md"),
        "html": str(folder / "report.html"),
    }
    return report


def _resolved(path: str | Path) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(path)


def dependents(spec: Spec, name: str) -> set[str]:
    """Every agent that needs ``name``, directly or through the signals it emits, transitively."""
    out: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        agent = spec.agent(current)
        provides = {current, *(agent.settings.emits if agent else [])}
        for other in spec.agents:
            if other.name not in out and other.name != name and provides & set(other.settings.needs):
                out.add(other.name)
                frontier.append(other.name)
    return out


def wants_isolation(spec: Spec, options: RunOptions) -> bool:
    """Whether any agent the run would start works in a working copy of its own."""
    from counterpoint.engine.run import select_agents

    return any(a.settings.isolation == "worktree" for a in select_agents(spec, options.agents))


def check_startable(spec: Spec, options: RunOptions) -> None:
    """The spec's own refusals (`SpecHasErrors`, `UnknownAgents`); `start_run` checks them
    first, and a face may ask before it opens an engine."""
    if spec.has_errors:
        raise SpecHasErrors(spec)
    unknown = [a for a in options.agents or [] if spec.agent(a) is None]
    if unknown:
        raise UnknownAgents(spec, unknown)


class RunRefused(Exception):
    """A run that cannot start (one is live on the same spec)."""


class SpecHasErrors(RunRefused):
    """The spec has errors: it cannot run until they are fixed."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        first = next((d for d in spec.diagnostics if d.severity == "error"), None)
        where = f" (line {first.range.line + 1}: {first.message})" if first is not None else ""
        super().__init__(f"the spec has errors{where}; fix them and run again")


class UnknownAgents(RunRefused):
    """Agents asked for that the spec does not have."""

    def __init__(self, spec: Spec, names: list[str]) -> None:
        self.names = names
        self.known = [a.name for a in spec.agents]
        super().__init__(f"no such agent: {', '.join(names)}")

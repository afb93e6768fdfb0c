"""How engine parts follow a live run: the typed `RunObserver` protocol, and `RunChecks`.

Observers are told, synchronously and in order, what the run decides: it started, an agent
changed state, a signal fired, an agent wrote a file through the workspace tools, the watcher
saw files change. They are engine parts (the checks); the faces follow the committed event log
and `Run.status()` instead. An observer that raises is logged and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from counterpoint_protocol.events import AgentStatus, FindingPayload

if TYPE_CHECKING:
    from counterpoint.engine.run.state import AgentRuntime
    from counterpoint.engine.runners.base import AgentContext
    from counterpoint.engine.watch import FileChange

log = logging.getLogger(__name__)


class RunObserver(Protocol):
    """What a run tells the engine parts that follow it. Every method has a no-op default:
    subclass this protocol to implement only what you need."""

    def on_run_started(self) -> None:
        """The run's agents are being scheduled (the context is loaded, the watcher set up)."""
        return None

    def on_agent_state(self, name: str, state: AgentStatus) -> None:
        """Agent ``name`` moved to ``state`` (its event is already appended)."""
        return None

    def on_signal(self, name: str, metadata: dict[str, Any]) -> None:
        """Signal ``name`` fired, the first time in this run."""
        return None

    def on_write(self, actor: str, path: str) -> None:
        """``actor`` wrote ``path`` (relative to the spec's folder) through the workspace tools."""
        return None

    def on_files_changed(self, changes: list[FileChange]) -> None:
        """The watcher saw these files change (before they fire any signal)."""
        return None


class RunChecks(RunObserver, Protocol):
    """What the run needs of its checks (`checks.runner.CheckManager` is one)."""

    def has_checks(self) -> bool:
        """Whether the spec has checks of its own (else the integrator has nothing to do)."""
        ...

    async def wait_idle(self) -> None: ...

    def open_findings(self) -> list[FindingPayload]: ...

    def open_errors(self) -> list[FindingPayload]: ...

    def cancel(self) -> None: ...

    async def integrate(self, agent: AgentRuntime, context: Callable[[], AgentContext]) -> None:
        """Run ``agent`` as the integrator: fix the open findings, recheck, up to its rounds."""
        ...


class Observers:
    """The observers of one run, called in the order they subscribed."""

    def __init__(self) -> None:
        self._observers: list[RunObserver] = []

    def add(self, observer: RunObserver) -> Callable[[], None]:
        """Subscribe; returns the function that unsubscribes."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    def _each(self, call: Callable[[RunObserver], None]) -> None:
        for observer in list(self._observers):
            try:
                call(observer)
            except Exception:
                log.exception("run observer %r failed", observer)

    def run_started(self) -> None:
        self._each(lambda o: o.on_run_started())

    def agent_state(self, name: str, state: AgentStatus) -> None:
        self._each(lambda o: o.on_agent_state(name, state))

    def signal(self, name: str, metadata: dict[str, Any]) -> None:
        self._each(lambda o: o.on_signal(name, metadata))

    def write(self, actor: str, path: str) -> None:
        self._each(lambda o: o.on_write(actor, path))

    def files_changed(self, changes: list[FileChange]) -> None:
        self._each(lambda o: o.on_files_changed(changes))

"""`RunView`: the narrow, read-only view of a live run that its checks, the integrator and gate
handlers get instead of the `Run` itself.

It answers questions (which agents run, which signals fired, can a need still be met) and
offers the only two things a check may do to a run: append an event of the run, and spawn a
task that the run waits for and cancels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from counterpoint_protocol.events import AgentStatus
from counterpoint_protocol.spec import Spec

from counterpoint.engine.process import TaskSpawner
from counterpoint.engine.run.state import AgentRuntime, RunState
from counterpoint.engine.workspace import ConsentPolicy

T = TypeVar("T")
Emit = Callable[..., None]
"""(type, actor, action, **metadata) -> None: append an event of the run."""


class Liveness(Protocol):
    """Whether a need can still be met, and why not (the scheduler knows)."""

    def can_still_fire(self, need: str) -> bool: ...

    def why_dead(self, need: str) -> str: ...


class RunView:
    """Read-only questions about one run, plus `emit` and `spawn`."""

    def __init__(
        self,
        *,
        run_id: str,
        spec: Spec,
        root: Path,
        spec_dir: Path,
        agents: Mapping[str, AgentRuntime],
        signals: Mapping[str, dict[str, Any]],
        liveness: Liveness,
        consent: ConsentPolicy,
        emit: Emit,
        spawner: TaskSpawner,
        state: Callable[[], RunState],
        watching: Callable[[], bool],
    ) -> None:
        self.run_id = run_id
        self.spec = spec
        self.root = root
        self.spec_dir = spec_dir
        self._agents = agents
        self._signals = signals
        self._liveness = liveness
        self.consent = consent
        self._emit = emit
        self._spawner = spawner
        self._state = state
        self._watching = watching
        self.checks_dir: Path | None = None
        """Where checks run when not in the spec's folder (an isolated run's integration copy)."""
        self.display: Callable[[Path], Path] = lambda path: path
        """A path where checks run -> where the user sees it (their working tree)."""

    # -- questions ----------------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return self._state() in (RunState.CANCELLING, RunState.CANCELLED)

    @property
    def watching(self) -> bool:
        """Whether the run watches files (file signals and checks' ``watch`` globs)."""
        return self._watching()

    def agent(self, name: str) -> AgentRuntime | None:
        """The live state of agent ``name`` of this run (not to be changed), or None."""
        return self._agents.get(name)

    def agents(self) -> Iterator[AgentRuntime]:
        return iter(self._agents.values())

    def running(self, runner: str | None = None) -> list[str]:
        """The agents running now (of ``runner`` only, if given)."""
        return [
            a.name
            for a in self._agents.values()
            if a.state == AgentStatus.RUNNING and (runner is None or a.spec.settings.runner == runner)
        ]

    def fired(self, signal: str) -> bool:
        return signal in self._signals

    def can_still_fire(self, need: str) -> bool:
        return self._liveness.can_still_fire(need)

    def why_dead(self, need: str) -> str:
        return self._liveness.why_dead(need)

    # -- the two actions ----------------------------------------------------------------------------

    def emit(self, type: str, actor: str | None = None, action: str | None = None, **metadata: Any) -> None:
        """Append an event of this run (it keeps the log's order)."""
        self._emit(type, actor, action, **metadata)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Start a task of the run (cancelled and awaited with the run's own)."""
        return self._spawner.spawn(coro, name=name)

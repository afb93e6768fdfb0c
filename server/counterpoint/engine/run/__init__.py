"""One run of a spec, composed: `Run` (its state and events), `Scheduler` (readiness, queue,
``max_parallel``, gates, blocking), `AgentWorker` (one agent's life), `RunOptions` (complete
before the run exists), `RunObserver` (how engine parts follow it), `RunView` (what checks and
gate handlers may see of it).
"""

from counterpoint.engine.run.observer import RunChecks, RunObserver
from counterpoint.engine.run.options import GateAnswer, GateHandler, RunOptions, new_run_id, select_agents
from counterpoint.engine.run.run import Run
from counterpoint.engine.run.scheduler import Scheduler
from counterpoint.engine.run.state import (
    AgentRuntime,
    IllegalTransition,
    RunState,
    waiting_names,
    waiting_text,
)
from counterpoint.engine.run.view import RunView
from counterpoint.engine.run.worker import AgentWorker

__all__ = [
    "AgentRuntime",
    "AgentWorker",
    "GateAnswer",
    "GateHandler",
    "IllegalTransition",
    "Run",
    "RunChecks",
    "RunObserver",
    "RunOptions",
    "RunState",
    "RunView",
    "Scheduler",
    "new_run_id",
    "select_agents",
    "waiting_names",
    "waiting_text",
]

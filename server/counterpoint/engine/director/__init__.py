"""The director room: a one-line feature request -> a spec checked as ``counterpoint check``
checks it, sized to the work, with its predicted critical path and speed-up.

director (the flow: model, rounds of drafts and repairs, events, the file), session (the
conversation on the llm runner's machinery, read-only tools), survey (the repository's layout,
commands, roles), prompt, draft (check, name, note, write), estimate (the predicted schedule).
"""

from __future__ import annotations

from counterpoint.engine.director.director import (
    MODEL_ENV,
    PlanOptions,
    PlanOutcome,
    new_plan_id,
    plan_feature,
)
from counterpoint.engine.director.estimate import describe, predict
from counterpoint.engine.director.session import PlanFailed

__all__ = [
    "MODEL_ENV",
    "PlanFailed",
    "PlanOptions",
    "PlanOutcome",
    "describe",
    "new_plan_id",
    "plan_feature",
    "predict",
]

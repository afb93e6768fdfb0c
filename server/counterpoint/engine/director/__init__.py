"""The director room: a one-line feature request -> a spec checked as ``counterpoint check``
checks it, sized to the work, with its predicted critical path and speed-up.

director (the flow: model, rounds of drafts and repairs, events, the file), options (what a plan
is asked with and gives back, the director's settings), session (the conversation on the llm
runner's machinery, read-only tools), survey (the repository's layout, commands, roles), review
(notes on a draft that passes check), prompt, draft (check, name, note, write), estimate (the
predicted schedule).
"""

from __future__ import annotations

from counterpoint.engine.director.director import plan_feature
from counterpoint.engine.director.estimate import describe, predict
from counterpoint.engine.director.options import MODEL_ENV, PlanOptions, PlanOutcome, new_plan_id
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

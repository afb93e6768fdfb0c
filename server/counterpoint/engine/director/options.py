"""What a plan is asked with (`PlanOptions`), what it gives back (`PlanOutcome`), its id, and the
director's own user settings (``director`` in settings.json: model, context, max_rounds,
max_requests, budget_usd)."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import PlanPrediction
from counterpoint_protocol.methods import PLAN_ID_PREFIX
from counterpoint_protocol.spec import Spec

from counterpoint.engine.director.session import PlanFailed

MODEL_ENV = "COUNTERPOINT_DIRECTOR_MODEL"
DEFAULT_ROUNDS = 3
DEFAULT_MAX_REQUESTS = 40
PLAN_ID = re.compile(re.escape(PLAN_ID_PREFIX) + r"[0-9A-Za-z_-]{1,60}")


def new_plan_id() -> str:
    return PLAN_ID_PREFIX + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass
class PlanOptions:
    request: str
    root: Path
    """The workspace's root: the spec goes there (unless ``out`` says otherwise)."""
    out: Path | None = None
    overwrite: bool = False
    model: str | None = None
    max_rounds: int | None = None
    """Drafts checked at most, the first included (default: ``director.max_rounds``, else 3)."""
    budget_usd: float | None = None
    max_requests: int | None = None
    user_settings: dict[str, Any] | None = None
    """Read from the user's settings file when None."""
    plan_id: str | None = None
    on_progress: Callable[[str], None] | None = None
    """One line at a time: what the director does (for a progress display)."""


@dataclass
class PlanOutcome:
    plan_id: str
    path: Path
    ok: bool
    """The spec passes ``counterpoint check``."""
    rounds: int
    spec: Spec
    """The spec as written, parsed and checked (its findings in ``spec.diagnostics``)."""
    errors: int
    warnings: int
    message: str
    summary: str
    usage: dict[str, Any] = field(default_factory=dict)
    prediction: PlanPrediction | None = None


def setting(settings: dict[str, Any], key: str) -> Any:
    director = settings.get("director")
    return director.get(key) if isinstance(director, dict) else None


def number(value: Any, kind: type, floor: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < floor:
        return None
    return kind(value)


def choose_model(options: PlanOptions, settings: dict[str, Any]) -> str:
    model = options.model or setting(settings, "model") or os.environ.get(MODEL_ENV)
    if not model:
        raise PlanFailed(
            "no model configured for the director: pass --model openai:<name> or anthropic:<name>, "
            'or set "director": {"model": "..."} in your user settings '
            f"(or {MODEL_ENV} in the environment)"
        )
    return str(model)

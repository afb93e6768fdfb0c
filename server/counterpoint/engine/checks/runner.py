"""Integration checks attached to a run (filled in by the checks issue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from counterpoint.engine.run import Run


def attach_checks(run: Run) -> None:
    """Attach the spec's checks and the built-in checks to ``run``."""
    return None

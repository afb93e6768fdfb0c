"""Markup helpers the HTML report and its timeline share: escaping, short labels, numbers, ticks."""

from __future__ import annotations

import math
from html import escape
from typing import Any


def esc(value: Any) -> str:
    """``value`` as text safe in HTML and SVG, attributes included."""
    return escape(str(value), quote=True)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis last when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool, not NaN), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def tick_step(span: float, target: int = 10) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-3) / target
    power = 10 ** math.floor(math.log10(raw))
    return float(next(f * power for f in (1, 2, 5, 10) if raw <= f * power))

"""Token prices and the per-run budget of LLM agents.

`PriceTable` turns one response's usage into US dollars. Built-in prices cover a
few common models (USD per million tokens, list prices; cached input is billed
at the cache-read price, cache writes at the cache-write price); users override
or extend them with the ``prices`` user setting or a JSON file named by
``COUNTERPOINT_PRICES``, both shaped ``{"openai:gpt-4o": {"input": 2.5,
"output": 10, "cache_read": 1.25, "cache_write": 2.5}}``. A model is matched by
its full name first, then by the longest known prefix (dated snapshots).

What a run may spend, and has, is `counterpoint.engine.run.budget.RunBudget`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PRICES_ENV = "COUNTERPOINT_PRICES"


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Price:
        return cls(
            input=float(data["input"]),
            output=float(data["output"]),
            cache_read=float(data["cache_read"]) if data.get("cache_read") is not None else None,
            cache_write=float(data["cache_write"]) if data.get("cache_write") is not None else None,
        )


BUILTIN_PRICES: dict[str, Price] = {
    "openai:gpt-4o": Price(2.50, 10.00, 1.25),
    "openai:gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "openai:gpt-4.1": Price(2.00, 8.00, 0.50),
    "openai:gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "openai:gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "openai:gpt-5": Price(1.25, 10.00, 0.125),
    "openai:gpt-5-mini": Price(0.25, 2.00, 0.025),
    "openai:o4-mini": Price(1.10, 4.40, 0.275),
    "anthropic:claude-opus-4": Price(15.00, 75.00, 1.50, 18.75),
    "anthropic:claude-opus-4-5": Price(5.00, 25.00, 0.50, 6.25),
    "anthropic:claude-sonnet-4": Price(3.00, 15.00, 0.30, 3.75),
    "anthropic:claude-haiku-4-5": Price(1.00, 5.00, 0.10, 1.25),
    "anthropic:claude-3-5-haiku": Price(0.80, 4.00, 0.08, 1.00),
    "anthropic:claude-3-7-sonnet": Price(3.00, 15.00, 0.30, 3.75),
}


@dataclass(frozen=True)
class TokenUsage:
    """One response's usage; ``input_tokens`` includes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @classmethod
    def of(cls, usage: Any) -> TokenUsage:
        """From a pydantic-ai response's ``usage`` (missing counts are 0)."""
        return cls(
            int(usage.input_tokens or 0),
            int(usage.output_tokens or 0),
            int(usage.cache_read_tokens or 0),
            int(usage.cache_write_tokens or 0),
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def event(self, cost: float | None, requests: int = 1) -> dict[str, Any]:
        """The metadata of a ``usage`` event for these tokens."""
        return {**dataclasses.asdict(self), "requests": requests, "cost_usd": round(cost or 0.0, 8)}


class PriceTable:
    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self.prices = dict(BUILTIN_PRICES if prices is None else prices)

    @classmethod
    def load(cls, overrides: dict[str, Any] | None = None) -> PriceTable:
        """Built-in prices, then the ``COUNTERPOINT_PRICES`` file, then ``overrides`` (settings)."""
        table = cls()
        path = os.environ.get(PRICES_ENV)
        if path:
            try:
                table.update(json.loads(Path(path).expanduser().read_text()))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("ignoring %s=%s: %s", PRICES_ENV, path, exc)
        if overrides:
            table.update(overrides)
        return table

    def update(self, data: dict[str, Any]) -> None:
        for name, entry in data.items():
            try:
                self.prices[str(name)] = Price.from_dict(entry)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("ignoring the price of %s: %s", name, exc)

    def price_for(self, model: str) -> Price | None:
        """The price of ``provider:name`` (or a bare name): exact, else the longest known prefix."""
        if model in self.prices:
            return self.prices[model]
        bare = model.split(":", 1)[-1]
        if bare in self.prices:
            return self.prices[bare]
        candidates = [k for k in self.prices if model.startswith(k) or bare.startswith(k)]
        return self.prices[max(candidates, key=len)] if candidates else None

    def cost(self, model: str, usage: TokenUsage) -> float | None:
        """USD for one response, or None when the model has no price."""
        price = self.price_for(model)
        if price is None:
            return None
        cache_read = price.cache_read if price.cache_read is not None else price.input
        cache_write = price.cache_write if price.cache_write is not None else price.input
        fresh = max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens)
        total = (
            fresh * price.input
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + usage.output_tokens * price.output
        )
        return total / 1_000_000

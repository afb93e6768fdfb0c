"""Prices, costs and the run budget of LLM agents; endpoint resolution rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from counterpoint.engine.run.budget import BudgetExceeded, RunBudget
from counterpoint.engine.runners.base import AgentFailed
from counterpoint.engine.runners.llm_models import is_local, resolve_endpoint
from counterpoint.engine.runners.pricing import PriceTable, TokenUsage


def test_cost_bills_cache_reads_and_writes_at_their_prices() -> None:
    table = PriceTable()
    usage = TokenUsage(
        input_tokens=1_000_000,
        output_tokens=100_000,
        cache_read_tokens=600_000,
        cache_write_tokens=100_000,
    )
    # sonnet, per million: 300k fresh * $3 + 600k read * $0.30 + 100k write * $3.75 + 100k out * $15
    assert table.cost("anthropic:claude-sonnet-4-6", usage) == pytest.approx(0.9 + 0.18 + 0.375 + 1.5)
    # A dated snapshot matches the longest known prefix.
    assert table.price_for("openai:gpt-4o-mini-2024-07-18") == table.prices["openai:gpt-4o-mini"]
    assert table.cost("openai:unknown-model", usage) is None


def test_prices_are_overridden_by_env_file_then_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "openai:my-model": {"input": 1, "output": 2},
                "openai:gpt-4o": {"input": 9, "output": 9},
            }
        )
    )
    monkeypatch.setenv("COUNTERPOINT_PRICES", str(path))
    table = PriceTable.load(
        {"openai:gpt-4o": {"input": 5, "output": 5, "cache_read": 1}, "bad": {"input": "x"}}
    )
    assert table.cost("openai:my-model", TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)) == 3.0
    assert table.prices["openai:gpt-4o"].input == 5
    assert "bad" not in table.prices


def test_budget_is_checked_against_the_whole_run() -> None:
    budget = RunBudget(1.0)
    budget.charge("a", 0.6)
    budget.check()
    budget.charge("b", 0.5)
    with pytest.raises(BudgetExceeded, match=r"budget of \$1.0000 is spent \(\$1.1000"):
        budget.check()
    assert budget.by_agent == {"a": 0.6, "b": 0.5}
    RunBudget(None).check()


def test_endpoint_comes_from_settings_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    endpoint = resolve_endpoint("openai:gpt-4o", None)
    assert (endpoint.api_key, endpoint.base_url, endpoint.model_name) == (
        "from-env",
        None,
        "gpt-4o",
    )
    endpoint = resolve_endpoint("openai:gpt-4o", {"openai_api_key": "from-settings", "max_retries": 1})
    assert endpoint.api_key == "from-settings" and endpoint.max_retries == 1
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(AgentFailed, match="set ANTHROPIC_API_KEY"):
        resolve_endpoint("anthropic:claude-x", None)
    with pytest.raises(AgentFailed, match="needs `model:`"):
        resolve_endpoint(None, None)


def test_local_endpoints() -> None:
    assert is_local("http://localhost:11434/v1") and is_local("http://127.0.0.1:8000/v1")
    assert is_local("http://192.168.1.5:1234/v1") and is_local("http://[::1]:8080")
    assert not is_local("https://api.openai.com/v1") and not is_local(None)

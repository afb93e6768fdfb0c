"""What one run may spend on LLM agents, and what they spent so far.

One `RunBudget` per run (`Run.budget`, passed to runners in ``options["budget"]``), charged by
every LLM agent after each response (prices: `counterpoint.engine.runners.pricing`).
"""

from __future__ import annotations


class BudgetExceeded(Exception):
    pass


class RunBudget:
    """The money one run may spend (``limit`` None: no limit) and what its agents spent so far.

    All agents of a run share one instance (they run on one event loop, so no lock is needed).
    """

    def __init__(self, limit: float | None = None) -> None:
        self.limit = limit
        self.spent = 0.0
        self.by_agent: dict[str, float] = {}

    @property
    def exceeded(self) -> bool:
        return self.limit is not None and self.spent >= self.limit

    def charge(self, agent: str, cost: float) -> None:
        self.spent += cost
        self.by_agent[agent] = self.by_agent.get(agent, 0.0) + cost

    def check(self) -> None:
        """Raise BudgetExceeded if the run has spent its budget."""
        if self.exceeded:
            raise BudgetExceeded(
                f"the run's budget of ${self.limit:.4f} is spent (${self.spent:.4f} so far); "
                "raise budget_usd in the spec to go on"
            )

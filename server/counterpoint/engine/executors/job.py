"""What a node is given to run one agent's attempt (`NodeJob`), secrets kept out of it.

The job travels through Ray's object store: it holds no secret. The agent's secret ``env:``
values, the API keys of the user's settings and the provider variables of the coordinator's
environment become the actor's environment instead (Ray's ``runtime_env``: what Ray itself
needs to start the process), and the node reads them from there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from counterpoint_protocol.spec import AgentSpec, Spec

from counterpoint.engine.runners.base import AgentContext
from counterpoint.engine.workspace import SharedContext, is_secret_key

FORWARDED_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")
"""Variables of the coordinator's environment an agent on a node gets (when set), as a local
agent would; ``COUNTERPOINT_RAY_ENV`` (comma-separated names) adds more."""
EXTRA_ENV = "COUNTERPOINT_RAY_ENV"


@dataclass
class NodeJob:
    run_id: str
    agent: AgentSpec
    """Its secret ``env:`` values left out (``secret_env`` names them)."""
    spec: Spec
    """Without its text, every agent's secret ``env:`` values left out."""
    task: str
    workspace_rel: str
    """The workspace root relative to the repository's top folder (``''``: the same)."""
    spec_rel: str
    """The spec's folder relative to the repository's top folder."""
    start: str
    """The commit of the tree it starts from (see `bundles.start_commit`)."""
    shared_context: SharedContext
    attempt: int = 1
    speed: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)
    budget_limit: float | None = None
    budget_spent: float = 0.0
    trusted: bool = False
    secret_env: list[str] = field(default_factory=list)
    watch: bool = True
    version: str = ""
    store: str = ""
    """Which repository's object store on the node the bundles go into (see `node_copy`)."""


def scrub_options(options: Mapping[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """``options`` without the run's live objects (budget) and secrets; each ``<provider>_api_key``
    of the user's settings goes to ``env`` as ``<PROVIDER>_API_KEY`` (what the runner reads)."""
    kept: dict[str, Any] = {}
    for key, value in options.items():
        if key == "budget":
            continue
        if is_secret_key(key):
            if isinstance(value, str) and value:
                env[key.upper()] = value
            continue
        kept[key] = scrub_options(value, env) if isinstance(value, Mapping) else value
    return kept


def secret_free(agent: AgentSpec) -> tuple[AgentSpec, dict[str, str]]:
    """``agent`` without its secret ``env:`` values, and those values."""
    secrets = {k: v for k, v in agent.settings.env.items() if is_secret_key(k)}
    if not secrets:
        return agent, {}
    env = {k: v for k, v in agent.settings.env.items() if k not in secrets}
    settings = agent.settings.model_copy(update={"env": env})
    return agent.model_copy(update={"settings": settings}), secrets


def forwarded_env() -> dict[str, str]:
    names = [*FORWARDED_ENV, *(n.strip() for n in os.environ.get(EXTRA_ENV, "").split(",") if n.strip())]
    return {name: os.environ[name] for name in names if name in os.environ}


def build_job(
    ctx: AgentContext,
    *,
    start: str,
    workspace_rel: str,
    spec_rel: str,
    task: str,
    trusted: bool,
    version: str,
    store: str,
) -> tuple[NodeJob, dict[str, str]]:
    """The job for ``ctx``'s attempt and the environment its actor gets (the secrets)."""
    env = forwarded_env()
    agent, secrets = secret_free(ctx.agent)
    env.update(secrets)
    agents = [secret_free(a)[0] for a in ctx.spec.agents]
    spec = ctx.spec.model_copy(update={"text": "", "agents": agents, "diagnostics": []})
    budget = ctx.options.get("budget")
    job = NodeJob(
        run_id=ctx.run_id,
        agent=agent,
        spec=spec,
        task=task,
        workspace_rel=workspace_rel,
        spec_rel=spec_rel,
        start=start,
        shared_context=ctx.shared_context,
        attempt=ctx.attempt,
        speed=ctx.speed,
        options=scrub_options(ctx.options, env),
        budget_limit=getattr(budget, "limit", None),
        budget_spent=float(getattr(budget, "spent", 0.0)),
        trusted=trusted,
        secret_env=sorted(secrets),
        version=version,
        store=store,
    )
    return job, env

"""Checks of where agents run: ``executor:`` and ``resources:`` (without asking any cluster).

A request that means nothing (``memory: lots``, a negative count, ``cpu`` for ``CPU``) is an
error on its value; an agent on Ray that says ``isolation: shared`` is an error (its work comes
back as git objects); resources of an agent that runs locally, and an integrator asked to run
on Ray (it works in the integration copy, where the run is), are warnings. Whether a cluster
could ever run a request is `counterpoint check`'s question to the cluster itself
(`counterpoint.engine.executors.ray_cluster`).
"""

from __future__ import annotations

from counterpoint_protocol.spec import AgentSpec, Severity

from counterpoint.engine.executors import ResourceError, parse_resources
from counterpoint.engine.spec.runner_checks import SpecFindings


def check_executor(findings: SpecFindings, agent: AgentSpec) -> None:
    settings = agent.settings
    if settings.resources:
        try:
            parse_resources(settings.resources)
        except ResourceError as exc:
            findings.error(findings.setting_range(agent, "resources"), "invalid-resources", str(exc))
    if settings.executor != "ray":
        if settings.resources:
            findings.report(
                findings.setting_range(agent, "resources"),
                "resources-unused",
                f"'{agent.name}' runs locally (executor: local): resources apply to agents on Ray",
                Severity.WARNING,
            )
        return
    if settings.integrate:
        findings.report(
            findings.setting_range(agent, "executor"),
            "integrator-runs-locally",
            f"'{agent.name}' is the integrator: it runs where the run is (in the integration copy), not on Ray",
            Severity.WARNING,
        )
    elif settings.isolation != "worktree":
        findings.error(
            findings.setting_range(agent, "isolation"),
            "ray-needs-worktree",
            f"'{agent.name}' runs on Ray (executor: ray), so it works in a copy of its own: "
            "remove 'isolation: shared' (or set it to worktree)",
        )

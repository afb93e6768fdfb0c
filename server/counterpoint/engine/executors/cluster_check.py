"""`counterpoint check` against the cluster: resources no node of it could ever give.

Asked only when the spec has agents on Ray and a cluster is named (``RAY_ADDRESS``) or running
here; without Ray installed or with no cluster answering, it says so once (a hint) and checks
nothing: the spec's own findings stand.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from counterpoint_protocol.spec import AgentSpec, Severity, SourceRange, Spec, SpecDiagnostic

from counterpoint.engine.executors.base import ExecutorError
from counterpoint.engine.executors.choice import executor_of
from counterpoint.engine.executors.resources import ResourceError, parse_resources

LOCAL_CLUSTER = "/tmp/ray/ray_current_cluster"
"""Where a cluster started here with ``ray start`` leaves its address (Ray's own discovery)."""


def _range(spec: Spec, agent: AgentSpec) -> SourceRange:
    if "resources" in agent.value_ranges:
        return agent.value_ranges["resources"]
    for key in ("defaults.resources", "resources", "defaults.executor", "executor"):
        if key in spec.value_ranges:
            return spec.value_ranges[key]
    return agent.heading_range


async def cluster_findings(spec: Spec, options: Mapping[str, Any] | None = None) -> list[SpecDiagnostic]:
    """Errors for the agents on Ray whose resources no live node has; a hint when no cluster
    could be asked. Joins the cluster (as `connect` does) only when one is named or local."""
    options = options or {}
    on_ray = [a for a in spec.agents if executor_of(a, options) == "ray"]
    if not on_ray:
        return []
    from counterpoint.engine.executors.ray_cluster import ADDRESS_ENV, connect

    if not os.environ.get(ADDRESS_ENV) and not await asyncio.to_thread(os.path.exists, LOCAL_CLUSTER):
        return []
    try:
        cluster = await connect()
    except ExecutorError as exc:
        first = on_ray[0]
        return [
            SpecDiagnostic(
                range=_range(spec, first),
                severity=Severity.WARNING,
                message=f"resources not checked against a cluster: {exc}",
                code="cluster-unreachable",
            )
        ]
    found = []
    for agent in on_ray:
        try:
            request = parse_resources(agent.settings.resources)
        except ResourceError:
            continue  # the spec's own finding says why
        why = cluster.why_not(request)
        if why is not None:
            found.append(
                SpecDiagnostic(
                    range=_range(spec, agent),
                    severity=Severity.ERROR,
                    message=f"'{agent.name}' asks for {request.describe()}: {why}",
                    code="resources-unsatisfiable",
                )
            )
    return found

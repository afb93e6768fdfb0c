"""The spec room: text -> `Spec` and its findings (never raises; exact ranges; linear time).

parser (Markdown structure), front_matter (YAML), values, validate (keys, names, cycles via graph,
runner_checks, path_checks), gc_pause (the collector paused over parse and validate).
"""

from __future__ import annotations

from counterpoint.engine.spec.validate import agent_dependencies, format_cli, load_spec

__all__ = ["agent_dependencies", "format_cli", "load_spec"]

"""The faces (CLI, language server) read runs only through the typed contract: committed events
and `Run.status()` / `Run.agent_status()`, never the engine's live objects (`run.agents`,
`run.result_status`, the scheduler...). Scanned in the source's syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

import counterpoint

FACES = ("cli", "lsp")
LIVE_ONLY = {
    "result_status",
    "signal_times",
    "signal_actor",
    "scheduler",
    "workers",
    "started_mono",
    "observers",
}
"""Run attributes that are not part of the contract (``agents`` too, except on a spec)."""


def reaches_into_runs(root: Path) -> list[str]:
    found = []
    for face in FACES:
        for path in sorted((root / face).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = ast.unparse(node.value)
                on_spec = owner == "spec" or owner.endswith(".spec")
                allowed = on_spec or owner in ("params", "args") or owner.endswith("status()")
                if node.attr in LIVE_ONLY or (node.attr == "agents" and not allowed):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {owner}.{node.attr}")
    return found


def test_faces_read_runs_only_through_status_and_events() -> None:
    assert reaches_into_runs(Path(counterpoint.__file__).parent) == []

"""Agent runners: replay, command, llm and acp, behind one interface (`base.Runner`)."""

from __future__ import annotations

import importlib

from counterpoint.engine.runners.base import Runner

_RUNNERS = {
    "replay": "counterpoint.engine.runners.replay:ReplayRunner",
    "command": "counterpoint.engine.runners.command:CommandRunner",
    "llm": "counterpoint.engine.runners.llm:LLMRunner",
    "acp": "counterpoint.engine.runners.acp:ACPRunner",
}


def get_runner(name: str) -> Runner:
    """The runner for ``name``, imported lazily (llm and acp pull in heavy libraries)."""
    target = _RUNNERS.get(name)
    if target is None:
        raise KeyError(f"unknown runner {name!r}; known: {', '.join(_RUNNERS)}")
    module_name, cls_name = target.split(":")
    module = importlib.import_module(module_name)
    runner: Runner = getattr(module, cls_name)()
    return runner

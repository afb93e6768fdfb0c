"""Many LLM agents starting at once import pydantic-ai once, in one thread, and all of them succeed."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, sys
from counterpoint.engine.runners import llm

async def main():
    assert "pydantic_ai" not in sys.modules
    results = await asyncio.gather(*(llm.preload() for _ in range(12)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    from pydantic_ai import Agent  # complete: usable right away
    from pydantic_ai.models import Model
    print("ok", Agent.__name__, Model.__name__)

asyncio.run(main())
"""


def test_agents_starting_together_import_pydantic_ai_once_and_completely() -> None:
    # A fresh interpreter: the heavy modules are not imported yet, so the agents race for them.
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("ok Agent Model"), proc.stdout

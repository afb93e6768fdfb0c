"""A cancel that lands while a child process is being started never leaves that child running."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import psutil
from counterpoint.engine.process import child_env, run_process


def survivors(marker: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


async def test_cancel_during_spawn_leaves_no_child(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid() % 1000}"
    for attempt in range(30):
        task = asyncio.ensure_future(
            run_process(f"sleep {marker}", cwd=tmp_path, env=child_env(), on_stdout=lambda line: None)
        )
        # Cancel at a different moment each time, from right away to well after the start.
        for _ in range(attempt % 6):
            await asyncio.sleep(0)
        await asyncio.sleep(0.001 * (attempt % 4))
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    for _ in range(50):
        if not survivors(marker):
            break
        await asyncio.sleep(0.05)
    assert survivors(marker) == []

"""Starting children: a cancel that lands while a child process is being started never leaves
that child running, and starting many children does not hold the event loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.process import child_env, run_process

from tests.support.processes import survivors


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


async def test_the_loop_answers_while_children_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a child never holds the event loop: while each of many children is being started
    (inside ``Popen``), a callback scheduled on the loop runs. Spawning on the loop's own thread
    cannot let it run, so that counts as a failure at once."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    marker = f"started-{uuid.uuid4().hex[:8]}"
    answered: list[bool] = []
    real = subprocess.Popen

    class Watched(real):  # type: ignore[valid-type,misc]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            if marker in str(args):
                if threading.get_ident() == loop_thread:
                    answered.append(False)  # the loop is stuck in here until the child exists
                else:
                    heard = threading.Event()
                    loop.call_soon_threadsafe(heard.set)
                    answered.append(heard.wait(60))
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Watched)
    lines: list[str] = []
    results = await asyncio.gather(
        *(
            run_process(f"echo {marker}", cwd=tmp_path, env=child_env(), on_stdout=lines.append)
            for _ in range(20)
        )
    )
    assert [r.exit_code for r in results] == [0] * 20
    assert lines == [marker] * 20
    assert answered == [True] * 20


async def test_on_spawn_comes_after_the_child_exists_and_before_its_output(tmp_path: Path) -> None:
    """``on_spawn`` (where an agent's busy time starts) is called once the child runs and before
    any of its output is read."""
    seen: list[str] = []
    result = await run_process(
        "echo $$ > pid; echo out",
        cwd=tmp_path,
        env=child_env(),
        on_stdout=lambda line: seen.append(f"line {line}"),
        on_spawn=lambda pid: seen.append(f"spawned {pid}"),
    )
    assert result.exit_code == 0
    pid = (tmp_path / "pid").read_text().strip()
    assert seen == [f"spawned {pid}", "line out"]

"""Processes a test left behind, and waiting for a condition without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil


def survivors(marker: str) -> list[psutil.Process]:
    """Live processes (zombies are dead: not counted) whose command line holds ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_until(condition: Callable[[], object], seconds: float = 20.0) -> None:
    """Poll ``condition`` until it is true; AssertionError after ``seconds`` (a generous bound)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.03)

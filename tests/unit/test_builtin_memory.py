"""The built-in checks remember a path's writer, not every write, and a tool write's time only for
as long as the file event of that write may still arrive."""

from __future__ import annotations

from typing import Any, cast

import pytest
from counterpoint.engine.checks import builtin
from counterpoint.engine.checks.builtin import OWN_WRITE_S, BuiltinChecks


def test_own_write_times_are_kept_for_the_window_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in checks remember when a tool wrote a path only for as long as a file event of that
    write may still come: 1,000 paths written, then one more after the window, leaves one."""
    now = [100.0]
    monkeypatch.setattr(builtin.time, "monotonic", lambda: now[0])
    checks = BuiltinChecks(cast(Any, None))
    for i in range(1_000):
        checks.tool_write("writer", f"out/f{i}.txt")
    assert len(checks._tool_writes) == 1_000
    now[0] += OWN_WRITE_S + 0.1
    checks.tool_write("writer", "out/last.txt")
    assert list(checks._tool_writes) == ["out/last.txt"]
    assert checks.open_findings() == []

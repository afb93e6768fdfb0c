"""Helpers shared by the CLI's subcommands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from counterpoint_protocol.spec import Spec


def fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"counterpoint: {message}\n")
    return code


def display_path(path: str | Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def workspace_log(folder: Path) -> Path | None:
    """The root of the workspace ``folder`` lies in when it has an event log (its SQLite file, or
    the PostgreSQL database the user configured), else None. `EventLogError` for a bad setting."""
    from counterpoint.engine.log import events_url
    from counterpoint.engine.workspace import db_path, find_workspace_root

    root = find_workspace_root(folder / "x")
    return root if db_path(root).exists() or events_url(root) is not None else None


def damaged_message(path: Path, shown: int) -> str:
    """The one line for a log that is partly unreadable."""
    return (
        f"{path} is damaged: only the {shown} events still readable were shown; "
        f"move the file aside to start a new log (`sqlite3 {path} .recover` may save more)"
    )


def print_diagnostics(spec: Spec) -> tuple[int, int]:
    """Print every finding as ``path:line:col: severity: message``; returns (errors, warnings)."""
    from counterpoint_protocol.spec import Severity

    from counterpoint.engine.spec import format_cli

    errors = warnings = 0
    for diag in spec.diagnostics:
        if diag.severity == Severity.HINT:
            continue
        target = diag.path or spec.path
        sys.stdout.write(format_cli(diag, display_path(target)) + "\n")
        errors += diag.severity == Severity.ERROR
        warnings += diag.severity == Severity.WARNING
    return errors, warnings

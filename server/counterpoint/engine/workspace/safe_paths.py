"""Paths built from a spec's names and settings, confined to where they belong.

Every file named after an agent (its task file, its conversation, its recorded
transcript) is built by `name_file`, which checks the name against the grammar
(`counterpoint_protocol.spec.NAME_PATTERN`) and that the result stays in its
folder, symlinks resolved: defence in depth, since the validator already
refuses bad names, but a resumed old run or a caller that skipped validation
must not write elsewhere either. `confine` does the same for a path setting of
the spec (``transcript``, ``cwd``, ``context``, a report file) against the
workspace root. Blocking (they touch the disk): call them in a thread from
async code, or accept a short stat on a local folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from counterpoint_protocol.spec import NAME_RULE, is_valid_name

from counterpoint.engine.workspace.paths import STATE_DIR

_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class UnsafePath(ValueError):
    """A name or path that would not stay where it belongs; the message is for the user."""


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid agent, signal, check or role name; None if it is."""
    if is_valid_name(name):
        return None
    return f"'{name}' is not a valid name: use {NAME_RULE}"


def outside_problem(path: Path, root: Path) -> str | None:
    """Why ``path`` (symlinks resolved) is not inside ``root`` (resolved too), or None if it is."""
    if "\x00" in str(path):
        return "is not a valid path (it holds a NUL character)"
    try:
        real = Path(os.path.realpath(path))
    except (OSError, ValueError) as exc:
        return f"cannot be resolved ({exc})"
    if not real.is_relative_to(os.path.realpath(root)):
        return f"is outside the workspace {root}"
    return None


def confine(path: Path, root: Path, what: str) -> Path:
    """``path`` with symlinks resolved, or `UnsafePath` if that is not inside ``root``."""
    problem = outside_problem(path, root)
    if problem is not None:
        raise UnsafePath(f"{what} {path} {problem}")
    return Path(os.path.realpath(path))


def name_file(folder: Path, name: str, suffix: str) -> Path:
    """``folder/<name><suffix>`` for a name that follows the grammar and stays in ``folder``."""
    problem = name_problem(name)
    if problem is not None:
        raise UnsafePath(problem)
    path = folder / f"{name}{suffix}"
    real_folder = Path(os.path.realpath(folder))
    if Path(os.path.realpath(path)).parent != real_folder:
        raise UnsafePath(f"'{name}{suffix}' would leave {folder}")
    return path


def agent_file(root: Path, run_id: str, kind: str, name: str, suffix: str) -> Path:
    """``<root>/.counterpoint/runs/<run_id>/<kind>/<name><suffix>``: a file of one agent of a run
    (``kind`` is the runner's own folder: ``tasks``, ``conversations``, ``transcripts``)."""
    if _RUN_ID.fullmatch(run_id) is None:
        raise UnsafePath(f"run id {run_id!r} cannot be a folder name")
    problem = name_problem(name)
    if problem is not None:
        raise UnsafePath(f"agent name {problem}")
    return name_file(root / STATE_DIR / "runs" / run_id / kind, name, suffix)

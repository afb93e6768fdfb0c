"""Path helpers shared by the check-output parsers.

Tools print paths relative to where they ran, absolute, or as ``file://`` URIs; findings
store them relative to the check's working directory (POSIX separators) when the file is
inside it, absolute otherwise. "In the workspace" also excludes installed packages and
virtualenvs, so a traceback's last frame in *your* code can be picked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

# Directory names whose files are never "the user's code" even under the check's cwd.
_FOREIGN_DIRS = frozenset(
    {
        "site-packages",
        "dist-packages",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "__pypackages__",
    }
)


def uri_to_path(uri: str) -> str:
    """Turn a ``file://`` URI into a local path; other strings are returned unquoted as is."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        return url2pathname(parsed.path)
    return unquote(uri) if "%" in uri else uri


def normalize_path(raw: str, cwd: Path) -> str:
    """Return ``raw`` relative to ``cwd`` (POSIX) if it lies inside it, else absolute."""
    text = uri_to_path(raw.strip())
    base = os.path.abspath(cwd)
    absolute = os.path.normpath(text if os.path.isabs(text) else os.path.join(base, text))
    rel = _relative_inside(absolute, base)
    if rel is None:
        # /tmp vs /private/tmp and similar: compare the resolved forms too.
        rel = _relative_inside(os.path.realpath(absolute), os.path.realpath(base))
    if rel is not None:
        return PurePath(rel).as_posix()
    return PurePath(absolute).as_posix()


def _relative_inside(path: str, base: str) -> str | None:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # different drives on Windows
        return None
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel


def is_workspace_path(normalized: str) -> bool:
    """True for a normalized path inside the check's cwd and outside installed packages."""
    if not normalized or normalized.startswith("<") or os.path.isabs(normalized):
        return False
    return not any(part in _FOREIGN_DIRS for part in PurePath(normalized).parts)


def resolve_report_file(name: str, cwd: Path) -> Path:
    """The report file named in a format spec (``junit:out.xml``), relative to ``cwd``."""
    path = Path(uri_to_path(name))
    return path if path.is_absolute() else cwd / path


def module_to_path(dotted: str, cwd: Path) -> tuple[str, list[str]] | None:
    """Guess the file of a dotted name (``tests.test_app.TestX``) under ``cwd``.

    Returns the normalized path and the leftover names (``["TestX"]``), or ``None``.
    """
    parts = [p for p in dotted.split(".") if p]
    for cut in range(len(parts), 0, -1):
        candidate = cwd.joinpath(*parts[:cut]).with_suffix(".py")
        if candidate.is_file():
            return normalize_path(str(candidate), cwd), parts[cut:]
    return None


def find_def_line(path: str, name: str, cwd: Path) -> int | None:
    """The 1-based line of ``def name`` (or ``async def``) in a file, if it can be found."""
    bare = name.split("[", 1)[0].split("::")[-1].split(".")[-1]
    if not bare.isidentifier():
        return None
    pattern = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(bare)}\s*\(")
    try:
        text = resolve_report_file(path, cwd).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None

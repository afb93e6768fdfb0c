"""Path rules for the workspace watcher: what it ignores, and which signal globs a path matches.

`IgnoreRules` decides whether a workspace path is out of scope: the fixed folder names (`.git`,
`.counterpoint`, `node_modules`, `.venv`, `venv`, `__pycache__`), any folder holding a
`pyvenv.cfg` (a virtual environment under any name), the root `.gitignore` (gitwildmatch, via
`pathspec`) and extra gitignore-style globs. `SignalMatcher` maps a path to the spec signals whose
globs (relative to the spec's folder; `*` stays inside one path segment, `**` crosses them) match.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pathspec

log = logging.getLogger(__name__)

IGNORED_DIR_NAMES: frozenset[str] = frozenset(
    {".git", ".counterpoint", "node_modules", ".venv", "venv", "__pycache__"}
)
"""Folder names that are never watched, wherever they appear."""

VENV_MARKER = "pyvenv.cfg"


def _read_gitignore(root: Path) -> list[str]:
    try:
        return (root / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


class IgnoreRules:
    """Decides which paths under `root` the watcher ignores. Thread-safe; does blocking I/O."""

    def __init__(self, root: Path, extra_ignores: Sequence[str] = ()) -> None:
        self.root = root
        self._extra = list(extra_ignores)
        self._lock = threading.Lock()
        self._venv_dirs: dict[str, bool] = {}
        self._spec = self._build_spec()

    def _build_spec(self) -> pathspec.PathSpec:
        return pathspec.GitIgnoreSpec.from_lines([*_read_gitignore(self.root), *self._extra])

    def reload_gitignore(self) -> None:
        """Re-read the root `.gitignore` (call when it changes)."""
        spec = self._build_spec()
        with self._lock:
            self._spec = spec

    def note_venv(self, directory: Path) -> None:
        """Record that `directory` is a virtual environment (its `pyvenv.cfg` just appeared)."""
        with self._lock:
            self._venv_dirs[str(directory)] = True

    def _is_venv(self, directory: str) -> bool:
        with self._lock:
            known = self._venv_dirs.get(directory)
        if known is None:
            known = os.path.isfile(os.path.join(directory, VENV_MARKER))
            with self._lock:
                self._venv_dirs[directory] = known
        return known

    def is_ignored(self, path: Path | str, *, is_dir: bool | None = None) -> bool:
        """Whether `path` (absolute, under root) is ignored. `is_dir=None` means: ask the disk."""
        abs_path = str(path)
        try:
            rel = os.path.relpath(abs_path, self.root)
        except ValueError:
            return True
        if rel == ".":
            return False
        if rel.startswith(".."):
            return True
        parts = rel.split(os.sep)
        if any(part in IGNORED_DIR_NAMES for part in parts):
            return True
        if is_dir is None:
            is_dir = os.path.isdir(abs_path)
        # Each folder on the way (the path itself too when it is a folder) may be a venv.
        folders = parts if is_dir else parts[:-1]
        current = str(self.root)
        for part in folders:
            current = os.path.join(current, part)
            if self._is_venv(current):
                return True
        rel_posix = "/".join(parts)
        with self._lock:
            spec = self._spec
        return spec.match_file(rel_posix + "/" if is_dir else rel_posix)

    def walk_files(self, directory: Path) -> list[Path]:
        """Every non-ignored regular file under `directory` (blocking; run it in a thread)."""
        found: list[Path] = []
        for current, dirnames, filenames in os.walk(directory):
            dirnames[:] = [d for d in dirnames if not self.is_ignored(os.path.join(current, d), is_dir=True)]
            for name in filenames:
                full = os.path.join(current, name)
                if os.path.isfile(full) and not self.is_ignored(full, is_dir=False):
                    found.append(Path(full))
        return found


_GLOB_TOKEN = re.compile(r"\*\*|\*|\?|\[[^\]]*\]|\[|[^*?\[]+")


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """Compile a signal glob to a regex over POSIX relative paths; `ValueError` if it is bad.

    `*` and `?` never cross `/`; a `**` segment matches zero or more whole segments; `[...]`
    is a character class (`[!...]` negates).
    """
    if not glob or glob.startswith("/"):
        raise ValueError(f"glob must be a non-empty relative path: {glob!r}")
    segments = glob.split("/")
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        if segment == "":
            raise ValueError(f"empty path segment in glob: {glob!r}")
        if "**" in segment:
            raise ValueError(f"'**' must be a whole path segment: {glob!r}")
        pieces: list[str] = []
        for token in _GLOB_TOKEN.findall(segment):
            if token == "*":
                pieces.append("[^/]*")
            elif token == "?":
                pieces.append("[^/]")
            elif token == "[":
                raise ValueError(f"unclosed '[' in glob: {glob!r}")
            elif token.startswith("["):
                body = token[1:-1]
                if not body:
                    raise ValueError(f"empty character class in glob: {glob!r}")
                negate = body[0] in "!^"
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                pieces.append(f"[{'^/' if negate else ''}{body}]")
            else:
                pieces.append(re.escape(token))
        out.append("".join(pieces) + ("" if last else "/"))
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise ValueError(f"bad glob {glob!r}: {exc}") from exc


class SignalMatcher:
    """Maps a file path to the names of the signals whose globs match it."""

    def __init__(self, spec_dir: Path, signals: dict[str, list[str]]) -> None:
        self.spec_dir = spec_dir.resolve()
        self._patterns: list[tuple[str, re.Pattern[str]]] = [
            (name, glob_to_regex(glob)) for name, globs in signals.items() for glob in globs
        ]

    @property
    def signal_names(self) -> list[str]:
        """All signal names, in spec order, without repeats."""
        return list(dict.fromkeys(name for name, _ in self._patterns))

    def relative(self, path: Path) -> str | None:
        """`path` relative to the spec folder, POSIX style, or None if it lies outside."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.spec_dir).as_posix()
        except ValueError:
            return None

    def match(self, path: Path) -> list[str]:
        """Names of the signals whose globs match `path` (each name once, in spec order)."""
        rel = self.relative(path)
        if rel is None:
            return []
        return list(dict.fromkeys(name for name, regex in self._patterns if regex.fullmatch(rel)))

    def matches_any(self, paths: Iterable[Path]) -> list[Path]:
        """The paths that match at least one signal glob."""
        return [path for path in paths if self.match(path)]

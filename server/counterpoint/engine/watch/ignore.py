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
from collections.abc import Callable, Iterable, Iterator, Sequence
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


DIR_CACHE_LIMIT = 100_000
"""Most folders whose verdict `IgnoreRules.dir_ignored` remembers (it starts over past this)."""


class IgnoreRules:
    """Decides which paths under `root` the watcher ignores. Thread-safe; does blocking I/O."""

    def __init__(self, root: Path, extra_ignores: Sequence[str] = ()) -> None:
        self.root = root
        self._root_str = str(root)
        self._prefix = os.path.join(self._root_str, "")
        self._extra = list(extra_ignores)
        self._lock = threading.Lock()
        self._venv_dirs: dict[str, bool] = {}
        self._dir_cache: dict[str, bool] = {}
        self._spec = self._build_spec()

    def _build_spec(self) -> pathspec.PathSpec:
        return pathspec.GitIgnoreSpec.from_lines([*_read_gitignore(self.root), *self._extra])

    def reload_gitignore(self) -> None:
        """Re-read the root `.gitignore` (call when it changes)."""
        spec = self._build_spec()
        with self._lock:
            self._spec = spec
            self._dir_cache.clear()

    def note_venv(self, directory: Path) -> None:
        """Record that `directory` is a virtual environment (its `pyvenv.cfg` just appeared)."""
        with self._lock:
            self._venv_dirs[str(directory)] = True
            self._dir_cache.clear()

    def _is_venv(self, directory: str) -> bool:
        with self._lock:
            known = self._venv_dirs.get(directory)
        if known is None:
            known = os.path.isfile(os.path.join(directory, VENV_MARKER))
            with self._lock:
                if len(self._venv_dirs) >= DIR_CACHE_LIMIT:
                    self._venv_dirs = {k: v for k, v in self._venv_dirs.items() if v}
                self._venv_dirs[directory] = known
        return known

    def relative(self, path: str) -> str | None:
        """`path` (absolute) relative to root with the OS separator; "" for root; None if outside."""
        if path == self._root_str:
            return ""
        if not path.startswith(self._prefix):
            return None
        rel = path[len(self._prefix) :]
        if os.sep + ".." + os.sep in os.sep + rel + os.sep:
            return None
        return rel

    def is_ignored(self, path: Path | str, *, is_dir: bool | None = None) -> bool:
        """Whether `path` (absolute, under root) is ignored. `is_dir=None` means: ask the disk."""
        abs_path = os.path.normpath(str(path))
        rel = self.relative(abs_path)
        if rel is None:
            return True
        if rel == "":
            return False
        parts = rel.split(os.sep)
        if any(part in IGNORED_DIR_NAMES for part in parts):
            return True
        if is_dir is None:
            is_dir = os.path.isdir(abs_path)
        # Each folder on the way (the path itself too when it is a folder) may be a venv.
        folders = parts if is_dir else parts[:-1]
        current = self._root_str
        for part in folders:
            current = os.path.join(current, part)
            if self._is_venv(current):
                return True
        rel_posix = "/".join(parts)
        with self._lock:
            spec = self._spec
        return spec.match_file(rel_posix + "/" if is_dir else rel_posix)

    def child_dir_ignored(self, directory: str, name: str) -> bool:
        """Whether folder `name` in `directory` (a folder known not to be ignored) is ignored by
        name or by the gitignore patterns; whether it is a virtual environment is not asked."""
        return self._child_ignored(directory, name, "/")

    def dir_ignored(self, directory: str) -> bool:
        """`is_ignored(directory, is_dir=True)`, remembered: the watcher's fast path per event."""
        with self._lock:
            known = self._dir_cache.get(directory)
        if known is not None:
            return known
        parent = os.path.dirname(directory)
        if parent != directory and len(parent) > len(self._root_str) and self.dir_ignored(parent):
            known = True  # inside an ignored folder: no need to ask pathspec
        else:
            known = self.is_ignored(directory, is_dir=True)
        with self._lock:
            if len(self._dir_cache) >= DIR_CACHE_LIMIT:
                self._dir_cache.clear()
            self._dir_cache[directory] = known
        return known

    def file_ignored(self, directory: str, name: str) -> bool:
        """Whether file `name` in `directory` is ignored, for a folder known not to be."""
        return self._child_ignored(directory, name, "")

    def _child_ignored(self, directory: str, name: str, suffix: str) -> bool:
        """`name` in `directory` (not ignored itself): by its name, or by the patterns; ``suffix``
        is ``/`` for a folder (patterns such as ``build/`` match folders only)."""
        if name in IGNORED_DIR_NAMES:
            return True
        rel = self.relative(os.path.join(directory, name))
        if rel is None:
            return True
        with self._lock:
            spec = self._spec
        return spec.match_file(rel.replace(os.sep, "/") + suffix)

    def walk(
        self,
        directory: Path | str,
        *,
        max_depth: int | None = None,
        on_pruned: Callable[[str], None] | None = None,
        check_files: bool = True,
    ) -> Iterator[tuple[str, list[str]]]:
        """(folder, names of its non-ignored files) for each non-ignored folder under `directory`
        (itself included, `max_depth` levels down at most). Symlinked folders are not entered;
        `on_pruned` is told of each ignored folder left out. With `check_files=False` the names
        are every file's (the caller checks `file_ignored` on those it keeps). Blocking."""
        top = os.path.normpath(str(directory))
        if self.dir_ignored(top):
            return
        base_depth = top.count(os.sep)
        for current, dirnames, filenames in os.walk(top):
            depth = current.count(os.sep) - base_depth
            keep: list[str] = []
            for name in dirnames:
                full = os.path.join(current, name)
                if self.dir_ignored(full):
                    if on_pruned is not None:
                        on_pruned(full)
                elif max_depth is None or depth < max_depth:
                    keep.append(name)  # os.walk does not enter symlinked folders
            dirnames[:] = keep
            if check_files:
                filenames = [name for name in filenames if not self.file_ignored(current, name)]
            yield current, filenames

    def walk_files(self, directory: Path) -> list[Path]:
        """Every non-ignored regular file under `directory` (blocking; run it in a thread)."""
        found: list[Path] = []
        for current, names in self.walk(directory):
            for name in names:
                full = os.path.join(current, name)
                if os.path.isfile(full):
                    found.append(Path(full))
        return found


_GLOB_META = re.compile(r"[*?\[]")
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
        self._globs = [glob for globs in signals.values() for glob in globs]
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

    def matches_relative(self, rel: str) -> bool:
        """Whether `rel` (POSIX, relative to the spec folder) matches at least one glob."""
        return any(regex.fullmatch(rel) for _, regex in self._patterns)

    def scan_targets(self) -> tuple[list[Path], list[tuple[Path, int | None]]]:
        """Where files matching the globs can be: (files named by fully literal globs, and
        (folder, how many levels below it) for the others: a glob's literal leading folders,
        `None` levels when it holds `**`). Folders inside a `None` one are left out."""
        files: set[Path] = set()
        folders: dict[Path, int | None] = {}
        for glob in self._globs:
            segments = glob.split("/")
            literal = 0
            while literal < len(segments) and not _GLOB_META.search(segments[literal]):
                literal += 1
            if literal == len(segments):
                files.add(self.spec_dir.joinpath(*segments))
                continue
            folder = self.spec_dir.joinpath(*segments[:literal])
            rest = segments[literal:]
            depth = None if "**" in rest else len(rest) - 1
            if folder in folders:
                old = folders[folder]
                depth = None if old is None or depth is None else max(old, depth)
            folders[folder] = depth
        kept = {
            folder: depth
            for folder, depth in folders.items()
            if not any(other in folder.parents and folders[other] is None for other in folders)
        }
        return sorted(files), sorted(kept.items())

"""Workspace tools confined to the workspace root, each call recorded.

Every runner that touches files (replay, llm, acp) goes through `WorkspaceTools`,
so paths can never leave the workspace (no ``..``, no absolute paths outside,
no symlink escapes), never reach the repository's or Counterpoint's own
machinery inside it (``.git``, ``.counterpoint``, the user's config folder: see
`counterpoint.engine.workspace.machinery`), and Counterpoint knows exactly which agent
wrote what.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import aiofiles

from counterpoint.engine.workspace.machinery import Machinery

IGNORED_DIRS = frozenset({".git", ".counterpoint", "node_modules", "__pycache__", ".venv", "venv"})
MAX_READ_BYTES = 2_000_000


class ToolError(Exception):
    """A tool call the agent got wrong: the message goes back to the agent."""


@dataclass(frozen=True)
class WriteRecord:
    actor: str
    path: str
    sha256: str
    size: int
    created: bool


class ToolCall(NamedTuple):
    """One call of a workspace tool, as recorded: its result summary, or the error it raised."""

    actor: str
    tool: str
    args: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None


ToolRecorder = Callable[[ToolCall], Awaitable[None]]
"""Records a tool call (the run: as a ``tool_call`` event)."""
WriteListener = Callable[[WriteRecord], Awaitable[None]]


class WorkspaceTools:
    """File tools for agents, rooted at ``root``; relative paths resolve against ``base``."""

    def __init__(
        self,
        root: Path,
        base: Path | None = None,
        *,
        recorder: ToolRecorder | None = None,
        on_write: WriteListener | None = None,
    ) -> None:
        self.root = root.resolve()
        self.base = (base or root).resolve()
        self.recorder = recorder
        self.on_write = on_write
        self.machinery = Machinery(self.root)

    # -- confinement ----------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The absolute path for ``path``, or ToolError if it leaves the workspace or is machinery.

        Blocking (it stats the disk): the tools call it in a thread.
        """
        if not path or "\x00" in path:
            raise ToolError("empty or invalid path")
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.base / candidate
        # Resolve symlinks of every existing part; what does not exist yet is taken literally.
        resolved = Path(os.path.realpath(candidate))
        if not resolved.is_relative_to(self.root):
            raise ToolError(f"path {path!r} is outside the workspace ({self.root})")
        refusal = self.machinery.refusal(resolved, path)
        if refusal is not None:
            raise ToolError(refusal)
        return resolved

    def _existing_file(self, path: str) -> Path:
        target = self.resolve(path)
        if not target.is_file():
            raise ToolError(f"no such file: {path}")
        return target

    def _skip_dir(self, folder: Path) -> bool:
        return folder.name in IGNORED_DIRS or self.machinery.skip_dir(folder)

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.base).as_posix()
        except ValueError:
            return path.relative_to(self.root).as_posix()

    async def _record(self, call: ToolCall) -> None:
        if self.recorder is not None:
            await self.recorder(call)

    async def _call(
        self, actor: str, tool: str, args: dict[str, Any], fn: Callable[[], Awaitable[Any]]
    ) -> Any:
        try:
            result = await fn()
        except ToolError as exc:
            await self._record(ToolCall(actor, tool, args, None, str(exc)))
            raise
        except OSError as exc:
            message = f"{tool} failed: {exc.strerror or exc}"
            await self._record(ToolCall(actor, tool, args, None, message))
            raise ToolError(message) from exc
        summary = (
            result if isinstance(result, dict) else {"count": len(result)} if isinstance(result, list) else {}
        )
        await self._record(ToolCall(actor, tool, args, summary, None))
        return result

    # -- tools ---------------------------------------------------------------------------------

    async def read_file(self, actor: str, path: str) -> str:
        async def run() -> str:
            target = await asyncio.to_thread(self._existing_file, path)
            async with aiofiles.open(target, "rb") as fh:
                data = await fh.read(MAX_READ_BYTES + 1)
            if len(data) > MAX_READ_BYTES:
                raise ToolError(f"{path} is larger than {MAX_READ_BYTES} bytes")
            return data.decode("utf-8", errors="replace")

        result: str = await self._call(actor, "read_file", {"path": path}, run)
        return result

    async def list_files(self, actor: str, path: str = ".", pattern: str | None = None) -> list[str]:
        def walk() -> list[str]:
            start = self.resolve(path)
            if not start.is_dir():
                raise ToolError(f"no such folder: {path}")
            found: list[str] = []
            for dirpath, dirnames, filenames in os.walk(start):
                here = Path(dirpath)
                dirnames[:] = sorted(d for d in dirnames if not self._skip_dir(here / d))
                for name in sorted(filenames):
                    if self.machinery.skip_file(dirpath, name):
                        continue
                    rel = self.relative(Path(dirpath) / name)
                    if pattern is None or fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(name, pattern):
                        found.append(rel)
                if len(found) > 5000:
                    break
            return found

        async def run() -> list[str]:
            return await asyncio.to_thread(walk)

        result: list[str] = await self._call(actor, "list_files", {"path": path, "pattern": pattern}, run)
        return result

    async def search(
        self, actor: str, text: str, path: str = ".", max_results: int = 200
    ) -> list[dict[str, Any]]:
        def scan() -> list[dict[str, Any]]:
            start = self.resolve(path)
            hits: list[dict[str, Any]] = []
            files = [start] if start.is_file() else []
            if start.is_dir():
                for dirpath, dirnames, filenames in os.walk(start):
                    here = Path(dirpath)
                    dirnames[:] = sorted(d for d in dirnames if not self._skip_dir(here / d))
                    files.extend(
                        here / f for f in sorted(filenames) if not self.machinery.skip_file(dirpath, f)
                    )
            for file in files:
                try:
                    with open(file, encoding="utf-8") as fh:
                        for number, line in enumerate(fh, 1):
                            if text in line:
                                hits.append(
                                    {
                                        "path": self.relative(file),
                                        "line": number,
                                        "text": line.rstrip()[:300],
                                    }
                                )
                                if len(hits) >= max_results:
                                    return hits
                except (UnicodeDecodeError, OSError):
                    continue
            return hits

        async def run() -> list[dict[str, Any]]:
            if not text:
                raise ToolError("search text is empty")
            return await asyncio.to_thread(scan)

        result: list[dict[str, Any]] = await self._call(actor, "search", {"text": text, "path": path}, run)
        return result

    async def write_file(self, actor: str, path: str, content: str) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            return await self._write(actor, path, content)

        result: dict[str, Any] = await self._call(
            actor, "write_file", {"path": path, "bytes": len(content)}, run
        )
        return result

    async def edit_file(self, actor: str, path: str, search: str, replace: str) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            target = await asyncio.to_thread(self._existing_file, path)
            try:
                async with aiofiles.open(target, encoding="utf-8") as fh:
                    content = await fh.read()
            except UnicodeDecodeError as exc:
                raise ToolError(f"edit_file: {path} is not UTF-8 text; rewrite it with write_file") from exc
            count = content.count(search) if search else 0
            if count == 0:
                raise ToolError(f"edit_file: the search text was not found in {path}")
            if count > 1:
                raise ToolError(
                    f"edit_file: the search text occurs {count} times in {path}; include more context to make it unique"
                )
            return await self._write(actor, target, content.replace(search, replace, 1))

        args = {"path": path, "search": search[:200], "replace": replace[:200]}
        result: dict[str, Any] = await self._call(actor, "edit_file", args, run)
        return result

    async def _write(self, actor: str, target: Path | str, content: str) -> dict[str, Any]:
        """Write ``content`` to ``target`` (a path the agent gave is resolved first, in the same
        thread hop: a small write costs one hop, not seven), then tell ``on_write``."""
        record = await asyncio.to_thread(self._write_blocking, actor, target, content.encode("utf-8"))
        if self.on_write is not None:
            await self.on_write(record)
        return {"path": record.path, "bytes": record.size, "created": record.created}

    def _write_blocking(self, actor: str, target: Path | str, data: bytes) -> WriteRecord:
        if isinstance(target, str):
            target = self.resolve(target)
        created = not target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        # One temporary file per write: concurrent writes of one path must not share (and mix) it.
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.counterpoint-tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return WriteRecord(actor, self.relative(target), hashlib.sha256(data).hexdigest(), len(data), created)

"""Shared context: the files named by the spec, read once per run and handed to every agent.

Every agent gets the same `SharedContext.text`, byte for byte, so that LLM
providers' prompt caches hit; the run records how much was loaded once and
what loading it per agent would have cost.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import aiofiles

log = logging.getLogger(__name__)
DEFAULT_CONTEXT = ("AGENTS.md",)
CHARS_PER_TOKEN = 4  # the usual approximation for English text and code


def approx_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass(frozen=True)
class ContextFile:
    path: str
    text: str

    @property
    def bytes(self) -> int:
        return len(self.text.encode("utf-8"))


@dataclass(frozen=True)
class SharedContext:
    files: tuple[ContextFile, ...] = ()
    missing: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        """The shared prefix: every file under a header, in spec order."""
        return "".join(f"<file path={f.path!r}>\n{f.text.rstrip()}\n</file>\n" for f in self.files)

    @property
    def bytes(self) -> int:
        return len(self.text.encode("utf-8"))

    @property
    def tokens(self) -> int:
        return approx_tokens(self.text)

    def metrics(self, agents: int) -> dict[str, int | list[str]]:
        return {
            "files": [f.path for f in self.files],
            "missing": list(self.missing),
            "bytes_loaded": self.bytes,
            "tokens_loaded": self.tokens,
            "agents": agents,
            "bytes_per_agent_load": self.bytes * agents,
            "tokens_per_agent_load": self.tokens * agents,
        }


def _inside(path: Path, root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(root)


async def _read(path: Path, root: Path) -> str | None:
    """The file's text; None if it is missing or (symlinks resolved) outside ``root``."""
    if not await asyncio.to_thread(_inside, path, root):
        log.warning("context file %s is outside the workspace %s; not loaded", path, root)
        return None
    try:
        async with aiofiles.open(path, encoding="utf-8", errors="replace") as fh:
            return await fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


async def load_shared_context(
    spec_dir: Path, names: list[str] | None, *, root: Path | None = None
) -> SharedContext:
    """Read the context files concurrently. ``names=None`` means the default (AGENTS.md if present).

    Files outside the workspace ``root`` (default: the spec's folder) are not read and count as
    missing: the spec comes from the workspace, which is not trusted with the user's other files.
    """
    explicit = names is not None
    wanted = list(names) if names is not None else list(DEFAULT_CONTEXT)
    confine = await asyncio.to_thread((root or spec_dir).resolve)
    texts = await asyncio.gather(*(_read(spec_dir / name, confine) for name in wanted))
    files = tuple(
        ContextFile(name, text) for name, text in zip(wanted, texts, strict=True) if text is not None
    )
    missing = (
        tuple(name for name, text in zip(wanted, texts, strict=True) if text is None) if explicit else ()
    )
    return SharedContext(files, missing)

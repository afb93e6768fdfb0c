"""Tests for `WorkspaceTools`: paths confined to the workspace, atomic writes recorded with their actor."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.workspace import ToolError, WorkspaceTools, WriteRecord


class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, str | None]] = []
        self.writes: list[WriteRecord] = []

    async def tool(
        self, actor: str, tool: str, args: dict[str, Any], result: dict[str, Any] | None, error: str | None
    ) -> None:
        self.calls.append((actor, tool, args, result, error))

    async def write(self, record: WriteRecord) -> None:
        self.writes.append(record)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("secret")
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "a.py").write_text("a = 1\n")
    return folder


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
def tools(root: Path, recorded: Recorded) -> WorkspaceTools:
    return WorkspaceTools(root, root / "src", recorder=recorded.tool, on_write=recorded.write)


@pytest.mark.parametrize("path", ["../../outside/secret.txt", "../..", "x/../../../outside/new.txt", ""])
async def test_relative_escapes_are_refused(tools: WorkspaceTools, path: str, outside: Path) -> None:
    with pytest.raises(ToolError):
        await tools.read_file("agent", path)
    with pytest.raises(ToolError):
        await tools.write_file("agent", path, "pwned")
    assert (outside / "secret.txt").read_text() == "secret"
    assert not (outside / "new.txt").exists()


async def test_absolute_paths_outside_are_refused(tools: WorkspaceTools, outside: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.read_file("agent", str(outside / "secret.txt"))
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.write_file("agent", str(outside / "new.txt"), "x")
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.list_files("agent", str(outside))
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.search("agent", "secret", str(outside))
    assert not (outside / "new.txt").exists()


async def test_absolute_paths_inside_are_allowed(tools: WorkspaceTools, root: Path) -> None:
    assert await tools.read_file("agent", str(root / "src" / "a.py")) == "a = 1\n"


async def test_symlink_escapes_are_refused(tools: WorkspaceTools, root: Path, outside: Path) -> None:
    (root / "src" / "link").symlink_to(outside, target_is_directory=True)
    (root / "src" / "secret_link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.read_file("agent", "link/secret.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.read_file("agent", "secret_link.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.write_file("agent", "link/new.txt", "x")
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.write_file("agent", "secret_link.txt", "overwritten")
    with pytest.raises(ToolError, match="outside the workspace"):
        await tools.edit_file("agent", "secret_link.txt", "secret", "changed")
    assert (outside / "secret.txt").read_text() == "secret"
    assert not (outside / "new.txt").exists()


async def test_symlinks_within_the_workspace_are_fine(tools: WorkspaceTools, root: Path) -> None:
    (root / "src" / "alias.py").symlink_to(root / "src" / "a.py")
    assert await tools.read_file("agent", "alias.py") == "a = 1\n"


async def test_refusals_are_recorded_with_the_actor(tools: WorkspaceTools, recorded: Recorded) -> None:
    with pytest.raises(ToolError):
        await tools.write_file("frontend", "../../elsewhere.txt", "x")
    actor, tool, args, result, error = recorded.calls[-1]
    assert (actor, tool, result) == ("frontend", "write_file", None)
    assert args["path"] == "../../elsewhere.txt"
    assert error is not None and "outside the workspace" in error
    assert recorded.writes == []


async def test_write_is_recorded_with_actor_and_hash(
    tools: WorkspaceTools, root: Path, recorded: Recorded
) -> None:
    result = await tools.write_file("backend", "pkg/new.py", "héllo\n")
    data = "héllo\n".encode()
    assert (root / "src" / "pkg" / "new.py").read_bytes() == data
    assert result == {"path": "pkg/new.py", "bytes": len(data), "created": True}
    assert recorded.writes == [
        WriteRecord("backend", "pkg/new.py", hashlib.sha256(data).hexdigest(), len(data), True)
    ]
    assert recorded.calls[-1][:2] == ("backend", "write_file")
    assert recorded.calls[-1][4] is None
    await tools.write_file("docs", "pkg/new.py", "again\n")
    assert [(w.actor, w.created) for w in recorded.writes] == [("backend", True), ("docs", False)]


async def test_write_replaces_the_file_atomically(tools: WorkspaceTools, root: Path) -> None:
    target = root / "src" / "a.py"
    before = target.stat().st_ino
    with open(target) as reader:  # a reader holding the old file keeps seeing all of it
        await tools.write_file("agent", "a.py", "b = 2\n" * 1000)
        assert reader.read() == "a = 1\n"
    assert target.read_text() == "b = 2\n" * 1000
    assert target.stat().st_ino != before  # a new file renamed over the old, not rewritten in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.py"]


async def test_concurrent_writes_to_one_file_never_mix(tools: WorkspaceTools, root: Path) -> None:
    contents = [chr(ord("a") + i) * 200_000 for i in range(12)]
    results = await asyncio.gather(
        *(tools.write_file(f"agent{i}", "shared.txt", text) for i, text in enumerate(contents)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert (root / "src" / "shared.txt").read_text() in contents
    assert sorted(p.name for p in (root / "src").iterdir()) == ["a.py", "shared.txt"]


async def test_failed_write_leaves_nothing_behind(tools: WorkspaceTools, root: Path) -> None:
    (root / "src" / "folder").mkdir()
    (root / "src" / "folder" / "inside.txt").write_text("kept")
    with pytest.raises(ToolError, match="write_file failed"):
        await tools.write_file("agent", "folder", "not a folder")
    assert sorted(p.name for p in (root / "src").iterdir()) == ["a.py", "folder"]


async def test_list_and_search_skip_ignored_folders(tools: WorkspaceTools, root: Path) -> None:
    (root / "src" / "node_modules").mkdir()
    (root / "src" / "node_modules" / "dep.js").write_text("a = 1")
    assert await tools.list_files("agent") == ["a.py"]
    hits = await tools.search("agent", "a = 1")
    assert hits == [{"path": "a.py", "line": 1, "text": "a = 1"}]


async def test_paths_resolve_against_the_base_folder(tools: WorkspaceTools, root: Path) -> None:
    await tools.write_file("agent", "../top.txt", "top")  # up from src/, still inside the root
    assert (root / "top.txt").read_text() == "top"
    assert os.path.realpath(tools.resolve("x.py")) == str((root / "src" / "x.py").resolve())


async def test_edit_of_a_file_that_is_not_utf8_is_a_tool_error(
    tools: WorkspaceTools, root: Path, recorded: Recorded
) -> None:
    (root / "src" / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ToolError, match=r"blob\.bin"):
        await tools.edit_file("agent", "blob.bin", "binary", "text")
    assert (root / "src" / "blob.bin").read_bytes() == b"\xff\xfe\x00binary"
    assert recorded.calls[-1][1] == "edit_file" and recorded.calls[-1][4] is not None

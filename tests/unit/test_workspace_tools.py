"""Tests for `WorkspaceTools`: paths confined to the workspace, atomic writes recorded with their actor."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.workspace import ToolCall, ToolError, WorkspaceTools, WriteRecord


class Recorded:
    def __init__(self) -> None:
        self.calls: list[ToolCall] = []
        self.writes: list[WriteRecord] = []

    async def tool(self, call: ToolCall) -> None:
        self.calls.append(call)

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


# -- the repository's and Counterpoint's own machinery ------------------------------------------------


def _git_workspace(root: Path) -> None:
    """``root`` as a git repository (a `.git` folder with the shape git gives it) with some state."""
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "objects").mkdir()
    (root / ".git" / "refs").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git" / "config").write_text("[remote]\n\turl = https://user:token@example.com/r\n")
    (root / ".counterpoint").mkdir()
    (root / ".counterpoint" / "events.db").write_bytes(b"SQLite format 3\x00")


MACHINERY_PATHS = [
    "../.git/config",
    "../.git/hooks/pre-commit",
    "./../.git/config",
    "x/../../.git/config",
    "../.git/",
    "../.git",
    "../.git/new-file",
    "../vendor/lib/.git/hooks/post-checkout",
    "../.counterpoint/events.db",
    "../.counterpoint/",
    "../.counterpoint/runs/r1/report.json",
    "deep/.counterpoint/x",
]


@pytest.mark.parametrize("path", MACHINERY_PATHS)
async def test_git_and_counterpoint_folders_are_refused(
    tools: WorkspaceTools, root: Path, recorded: Recorded, path: str
) -> None:
    _git_workspace(root)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: tools.write_file("agent", path, "[core]\n\tfsmonitor = touch /tmp/pwned\n"),
        lambda: tools.edit_file("agent", path, "url", "pwned"),
        lambda: tools.read_file("agent", path),
        lambda: tools.list_files("agent", path),
        lambda: tools.search("agent", "url", path),
    ]
    for call in calls:
        with pytest.raises(ToolError, match="agents may not read or write"):
            await call()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert recorded.writes == []
    assert all(error is not None and "agents may not" in error for *_, error in recorded.calls)


async def test_absolute_paths_into_git_are_refused(tools: WorkspaceTools, root: Path) -> None:
    _git_workspace(root)
    with pytest.raises(ToolError, match=r"\.git"):
        await tools.write_file("agent", str(root / ".git" / "config"), "x")
    with pytest.raises(ToolError, match=r"\.counterpoint"):
        await tools.read_file("agent", f"{root}/src/../.counterpoint/events.db")


async def test_symlinks_into_the_machinery_are_refused(tools: WorkspaceTools, root: Path) -> None:
    _git_workspace(root)
    src = root / "src"
    (src / "cfg").symlink_to(root / ".git" / "config")
    (src / "hooks").symlink_to(root / ".git" / "hooks", target_is_directory=True)
    (src / "state").symlink_to(root / ".counterpoint", target_is_directory=True)
    (src / "dangling").symlink_to(root / ".git" / "hooks" / "post-merge")  # does not exist yet
    for path in ("cfg", "hooks/pre-commit", "state/events.db", "dangling"):
        with pytest.raises(ToolError, match="agents may not read or write"):
            await tools.write_file("agent", path, "#!/bin/sh\ntouch /tmp/pwned\n")
        with pytest.raises(ToolError, match="agents may not read or write"):
            await tools.read_file("agent", path)
    assert not (root / ".git" / "hooks" / "post-merge").exists()
    assert not (root / ".git" / "hooks" / "pre-commit").exists()
    assert "token" in (root / ".git" / "config").read_text()


async def test_the_git_file_of_a_worktree_and_its_git_dir_are_refused(
    tools: WorkspaceTools, root: Path
) -> None:
    # A submodule: `lib/.git` is a file pointing at a git dir that is not named `.git`.
    gitdir = root / "modules" / "lib"
    for sub in ("objects", "refs", "hooks"):
        (gitdir / sub).mkdir(parents=True)
    (gitdir / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "src" / "lib").mkdir()
    (root / "src" / "lib" / ".git").write_text(f"gitdir: {gitdir}\n")
    with pytest.raises(ToolError, match=r"\.git"):
        await tools.write_file("agent", "lib/.git", "gitdir: /tmp/evil\n")
    with pytest.raises(ToolError, match=r"\.git"):
        await tools.read_file("agent", "lib/.git")
    with pytest.raises(ToolError, match="git"):
        await tools.write_file("agent", "../modules/lib/hooks/pre-commit", "touch /tmp/pwned")
    with pytest.raises(ToolError, match="git"):
        await tools.write_file("agent", "../modules/lib/config", "[core]\n")
    assert (root / "src" / "lib" / ".git").read_text() == f"gitdir: {gitdir}\n"
    assert sorted(p.name for p in gitdir.iterdir()) == ["HEAD", "hooks", "objects", "refs"]
    assert await tools.list_files("agent", "..") == ["a.py"]


async def test_list_and_search_never_show_or_read_the_machinery(
    tools: WorkspaceTools, root: Path, outside: Path
) -> None:
    _git_workspace(root)
    src = root / "src"
    (src / "sub").mkdir()
    (src / "sub" / ".git").write_text("gitdir: ../../.git/worktrees/sub\n")
    (src / "cfg").symlink_to(root / ".git" / "config")
    (src / "leak.txt").symlink_to(outside / "secret.txt")
    (src / "hooks").symlink_to(root / ".git" / "hooks", target_is_directory=True)
    assert await tools.list_files("agent", "..") == ["a.py"]
    assert await tools.search("agent", "token", "..") == []
    assert await tools.search("agent", "secret", "..") == []
    assert await tools.search("agent", "gitdir", "..") == []


@pytest.fixture
def dotfiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder that is a git repository, holding the user's Counterpoint config."""
    home = tmp_path / "home"
    _git_workspace(home)
    config = home / ".config" / "counterpoint"
    config.mkdir(parents=True)
    (config / "settings.json").write_text('{"llm": {"openai_api_key": "sk-secret"}}')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    (home / "notes.txt").write_text("hello\n")
    return home


@pytest.mark.parametrize(
    "path",
    [
        ".config/counterpoint/trust.json",
        ".config/counterpoint/settings.json",
        "./.config/counterpoint/",
        ".config/x/../counterpoint/new.json",
    ],
)
async def test_the_user_config_folder_is_refused_even_inside_the_workspace(
    dotfiles: Path, recorded: Recorded, path: str
) -> None:
    tools = WorkspaceTools(dotfiles, recorder=recorded.tool, on_write=recorded.write)
    config = dotfiles / ".config" / "counterpoint"
    with pytest.raises(ToolError, match="configuration"):
        await tools.write_file("agent", path, json.dumps({"workspaces": [str(dotfiles)]}))
    with pytest.raises(ToolError, match="configuration"):
        await tools.read_file("agent", path)
    with pytest.raises(ToolError, match="configuration"):
        await tools.edit_file("agent", path, "sk-secret", "x")
    assert sorted(p.name for p in config.iterdir()) == ["settings.json"]
    assert "sk-secret" in (config / "settings.json").read_text()
    assert await tools.list_files("agent") == ["notes.txt"]
    assert await tools.search("agent", "sk-secret") == []
    assert recorded.writes == []


async def test_the_default_config_folder_is_refused_when_xdg_points_elsewhere(
    dotfiles: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(dotfiles))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "elsewhere"))
    tools = WorkspaceTools(dotfiles)
    with pytest.raises(ToolError, match="configuration"):
        await tools.write_file("agent", ".config/counterpoint/trust.json", "{}")


async def test_ordinary_files_next_to_the_machinery_are_fine(tools: WorkspaceTools, root: Path) -> None:
    _git_workspace(root)
    await tools.write_file("agent", "../.gitignore", "*.pyc\n")
    await tools.write_file("agent", "../.github/workflows/ci.yml", "on: push\n")
    await tools.write_file("agent", "../my.git/readme", "not a git folder\n")
    await tools.write_file("agent", "../.counterpoint-notes.md", "notes\n")
    assert await tools.read_file("agent", "../.gitignore") == "*.pyc\n"
    assert sorted(await tools.list_files("agent", "..")) == [
        ".counterpoint-notes.md",
        ".github/workflows/ci.yml",
        ".gitignore",
        "a.py",
        "my.git/readme",
    ]

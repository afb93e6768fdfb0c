"""Tests for the workspace watcher, signal globs and content tracking, on real files and events."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.watch.ignore import IgnoreRules, SignalMatcher, glob_to_regex
from counterpoint.engine.watch.signals import ContentTracker, FileSignalSource
from counterpoint.engine.watch.watcher import FileChange, WorkspaceWatcher

WAIT_S = 30.0


async def wait_for(condition: Callable[[], bool], within: float = WAIT_S) -> bool:
    """Poll `condition` until it holds or `within` seconds pass; returns its last value."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return condition()
        await asyncio.sleep(0.02)
    return True


class Recorder:
    """Collects every change the watcher reports."""

    def __init__(self) -> None:
        self.changes: list[FileChange] = []

    def __call__(self, changes: list[FileChange]) -> None:
        self.changes.extend(changes)

    def paths(self) -> set[Path]:
        return {c.path for c in self.changes}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / "app").mkdir(parents=True)
    (workspace / "node_modules" / "pkg").mkdir(parents=True)
    (workspace / ".venv").mkdir()
    (workspace / "env" / "lib").mkdir(parents=True)
    (workspace / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (workspace / ".gitignore").write_text("build/\n*.log\n")
    return workspace.resolve()


@pytest.fixture
async def watched(root: Path) -> AsyncIterator[tuple[WorkspaceWatcher, Recorder]]:
    recorder = Recorder()
    watcher = WorkspaceWatcher(root, recorder, extra_ignores=["tmp-*"])
    await watcher.start()
    try:
        yield watcher, recorder
    finally:
        await watcher.stop()


async def test_write_is_reported_and_ignored_paths_are_not(
    root: Path, watched: tuple[WorkspaceWatcher, Recorder]
) -> None:
    _, recorder = watched
    ignored = [
        root / "node_modules" / "pkg" / "index.js",
        root / ".venv" / "x.py",
        root / "env" / "lib" / "site.py",
        root / "app" / "build" / "out.txt",
        root / "trace.log",
        root / "tmp-scratch.txt",
        root / "app" / "__pycache__" / "m.pyc",
    ]
    for path in ignored:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ignored")
    (root / "build").mkdir()
    (root / "build" / "a.txt").write_text("ignored too")
    target = root / "app" / "schema.py"
    target.write_text("class Course: ...\n")
    assert await wait_for(lambda: target in recorder.paths())
    await asyncio.sleep(0.2)  # let any stray ignored events arrive
    reported = recorder.paths()
    assert not reported & {*ignored, root / "build" / "a.txt"}
    assert all(c.path.is_absolute() for c in recorder.changes)
    assert not any(p.is_dir() for p in reported)


async def test_deletion_is_reported(root: Path, watched: tuple[WorkspaceWatcher, Recorder]) -> None:
    _, recorder = watched
    target = root / "app" / "gone.py"
    target.write_text("x")
    assert await wait_for(lambda: target in recorder.paths())
    target.unlink()
    assert await wait_for(lambda: FileChange(target, "deleted") in recorder.changes)


async def test_files_written_right_after_mkdir_are_all_reported_once(
    root: Path, watched: tuple[WorkspaceWatcher, Recorder]
) -> None:
    _, recorder = watched
    written: list[Path] = []
    for top, nested in (("fresh", "a/b"), ("app", "new/deeper")):
        for i in range(100):
            folder = root / top / nested / f"d{i % 5}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"f{i}.txt"
            path.write_text(str(i))
            written.append(path)
    assert await wait_for(lambda: set(written) <= recorder.paths())
    await asyncio.sleep(0.2)
    added = [c.path for c in recorder.changes if c.kind == "added"]
    assert sorted(added) == sorted(set(added)), "a file was reported as added twice"


async def test_new_top_level_folder_is_watched_after_the_rescan(
    root: Path, watched: tuple[WorkspaceWatcher, Recorder]
) -> None:
    _, recorder = watched
    (root / "later").mkdir()
    first = root / "later" / "one.txt"
    first.write_text("1")
    assert await wait_for(lambda: first in recorder.paths())
    second = root / "later" / "sub" / "two.txt"
    second.parent.mkdir()
    second.write_text("2")
    assert await wait_for(lambda: second in recorder.paths())


async def test_stop_is_idempotent_and_leaves_nothing_running(root: Path) -> None:
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    watcher = WorkspaceWatcher(root, Recorder())
    await watcher.start()
    (root / "later").mkdir()  # makes a dedicated watch thread too
    (root / "later" / "x.txt").write_text("x")
    await asyncio.sleep(0.2)
    await watcher.stop()
    await watcher.stop()
    assert asyncio.all_tasks() == tasks_before
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.name.startswith("counterpoint")]
    assert leftover == []


def test_signal_globs() -> None:
    spec_dir = Path("/ws/spec")
    matcher = SignalMatcher(
        spec_dir,
        {
            "schema_ready": ["app/schema.py"],
            "mutations_ready": ["app/mutations/*.py"],
            "any_test": ["**/test_*.py"],
            "docs": ["docs/**"],
        },
    )
    assert matcher.match(spec_dir / "app/schema.py") == ["schema_ready"]
    assert matcher.match(spec_dir / "app/mutations/enroll.py") == ["mutations_ready"]
    assert matcher.match(spec_dir / "app/mutations/sub/enroll.py") == []
    assert matcher.match(spec_dir / "test_top.py") == ["any_test"]
    assert matcher.match(spec_dir / "a/b/test_x.py") == ["any_test"]
    assert matcher.match(spec_dir / "docs/api/index.md") == ["docs"]
    assert matcher.match(Path("/elsewhere/app/schema.py")) == []
    for bad in ["", "/abs", "a//b", "a/[bc", "x**y"]:
        with pytest.raises(ValueError):
            glob_to_regex(bad)
    assert glob_to_regex("v[0-9].txt").fullmatch("v3.txt")
    assert not glob_to_regex("v[!0-9].txt").fullmatch("v3.txt")


def test_ignore_rules(root: Path) -> None:
    rules = IgnoreRules(root, ["*.tmp"])
    assert rules.is_ignored(root / "node_modules" / "a.js")
    assert rules.is_ignored(root / "env" / "lib" / "site.py")
    assert rules.is_ignored(root / "build", is_dir=True)
    assert rules.is_ignored(root / "x.tmp")
    assert not rules.is_ignored(root / "app" / "schema.py")
    assert not rules.is_ignored(root / "app")
    files = rules.walk_files(root)
    assert files == [root / ".gitignore"]


async def test_content_tracker(tmp_path: Path) -> None:
    tracker = ContentTracker()
    old = tmp_path / "old.txt"
    old.write_text("same")
    await tracker.prime([old])
    assert not await tracker.changed(old)
    old.write_text("different")
    assert await tracker.changed(old)
    new = tmp_path / "new.txt"
    new.write_text("n")
    assert await tracker.changed(new)
    assert not await tracker.changed(new)
    new.unlink()
    assert not await tracker.changed(new)


async def test_file_signal_source_fires_once_per_distinct_content(root: Path) -> None:
    existing = root / "app" / "existing.py"
    existing.write_text("v1")
    fired: list[tuple[str, dict[str, Any]]] = []
    raw: list[FileChange] = []
    source = FileSignalSource(
        root,
        root,
        {"schema_ready": ["app/schema.py"], "app_changed": ["app/*.py"]},
        lambda name, meta: fired.append((name, meta)),
    )
    source.add_listener(raw.extend)
    await source.start()
    try:
        existing.write_text("v1")  # unchanged rewrite: no signal
        schema = root / "app" / "schema.py"
        schema.write_text("class Course: ...\n")
        assert await wait_for(lambda: ("schema_ready", schema) in {(n, root / m["path"]) for n, m in fired})
        assert ("app_changed", {"path": "app/schema.py", "kind": "added"}) in fired
        assert await wait_for(lambda: existing in {c.path for c in raw})
        schema.write_text("class Course: ...\n")  # same bytes again
        marker = root / "app" / "marker.py"
        marker.write_text("m")
        assert await wait_for(lambda: any(m["path"] == "app/marker.py" for _, m in fired))
        names_paths = [(n, m["path"]) for n, m in fired]
        assert names_paths.count(("schema_ready", "app/schema.py")) == 1
        assert ("app_changed", "app/existing.py") not in names_paths
        existing.write_text("v2")
        assert await wait_for(
            lambda: ("app_changed", "app/existing.py") in [(n, m["path"]) for n, m in fired]
        )
    finally:
        await source.stop()
        await source.stop()


async def test_signal_fires_during_a_burst_in_an_ignored_folder(root: Path) -> None:
    fired: list[str] = []
    source = FileSignalSource(
        root, root, {"schema_ready": ["app/schema.py"]}, lambda name, meta: fired.append(name)
    )
    await source.start()
    try:
        burst = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import os,sys\n"
            "d=sys.argv[1]\n"
            "os.makedirs(d)\n"
            "for i in range(5000):\n"
            "    fd=os.open(os.path.join(d, f'f{i}.js'), os.O_CREAT|os.O_WRONLY)\n"
            "    os.write(fd, b'x'); os.close(fd)\n"
            "    if i == 200: print('under way', flush=True)\n",
            str(root / "node_modules" / "burst"),
            stdout=asyncio.subprocess.PIPE,
        )
        assert burst.stdout is not None
        assert await burst.stdout.readline() == b"under way\n"
        nested = root / "app" / "build" / "gen"
        nested.mkdir(parents=True)
        for i in range(500):  # a burst in a nested ignored folder reaches the Rust side
            (nested / f"g{i}.txt").write_text("x")
        (root / "app" / "schema.py").write_text("class Course: ...\n")
        assert await wait_for(lambda: fired == ["schema_ready"])
        assert await burst.wait() == 0
        assert len(os.listdir(root / "node_modules" / "burst")) == 5000
    finally:
        await source.stop()


async def test_start_on_a_missing_root_fails_cleanly(tmp_path: Path) -> None:
    tasks_before = asyncio.all_tasks()
    source = FileSignalSource(tmp_path / "missing", tmp_path / "missing", {"s": ["a.txt"]}, lambda n, m: None)
    with pytest.raises(FileNotFoundError):
        await source.start()
    assert asyncio.all_tasks() == tasks_before


async def write_many(folder: Path, count: int) -> None:
    """`count` files in `folder` (made), from a thread, as a build or an install would."""

    def run() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (folder / f"f{i}.js").write_text("x")

    await asyncio.to_thread(run)


async def test_nested_ignored_folders_get_no_watch_and_cause_no_work(tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    for folder in ("app/build/old", "app/src", "packages/x/node_modules/dep", "packages/x/lib", "docs"):
        (root / folder).mkdir(parents=True)
    (root / ".gitignore").write_text("build/\n")
    recorder = Recorder()
    watcher = WorkspaceWatcher(root, recorder)
    await watcher.start()
    try:
        flat, recursive = watcher.watched()
        assert {str(root / p) for p in ("app", "packages", "packages/x")} <= flat
        assert {str(root / p) for p in ("app/src", "packages/x/lib", "docs")} <= recursive
        watched = flat | recursive
        assert not any("build" in w or "node_modules" in w for w in watched)
        await write_many(root / "app" / "build" / "gen", 1500)
        await write_many(root / "packages" / "x" / "node_modules" / "dep" / "dist", 1500)
        probe = root / "app" / "src" / "probe.py"
        probe.write_text("x = 1\n")
        assert await wait_for(lambda: probe in recorder.paths())
        assert watcher.raw_events < 100, "events of ignored folders reached the watcher"
        assert all("build" not in str(p) and "node_modules" not in str(p) for p in recorder.paths())
    finally:
        await watcher.stop()


async def test_an_ignored_folder_made_inside_a_recursive_watch_leads_to_a_new_plan(
    tmp_path: Path,
) -> None:
    root = (tmp_path / "ws").resolve()
    (root / "lib" / "core").mkdir(parents=True)
    recorder = Recorder()
    watcher = WorkspaceWatcher(root, recorder)
    await watcher.start()
    try:
        assert str(root / "lib") in watcher.watched()[1]
        (root / "lib" / "node_modules").mkdir()
        # The new plan's watches become visible a moment before the replan is counted as done.
        assert await wait_for(lambda: str(root / "lib") in watcher.watched()[0] and watcher.replans >= 1)
        assert str(root / "lib" / "core") in watcher.watched()[1]
        before = watcher.raw_events
        await write_many(root / "lib" / "node_modules" / "dep", 1500)
        probe = root / "lib" / "core" / "probe.py"
        probe.write_text("x = 1\n")
        assert await wait_for(lambda: probe in recorder.paths())
        assert watcher.raw_events - before < 100
        made = root / "lib" / "fresh" / "deep" / "new.py"  # a folder made under one watched alone
        made.parent.mkdir(parents=True)
        made.write_text("y = 2\n")
        assert await wait_for(lambda: made in recorder.paths())
        later = made.parent / "later.py"
        later.write_text("z = 3\n")
        assert await wait_for(lambda: later in recorder.paths())
    finally:
        await watcher.stop()


async def test_what_the_watcher_remembers_per_file_stays_bounded(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import counterpoint.engine.watch.watcher as watcher_module

    monkeypatch.setattr(watcher_module, "REPORTED_LIMIT", 50)
    recorder = Recorder()
    watcher = WorkspaceWatcher(root, recorder)
    await watcher.start()
    try:
        written = [root / "app" / "many" / f"f{i}.txt" for i in range(300)]
        written[0].parent.mkdir()
        for path in written:
            path.write_text("x")
        assert await wait_for(lambda: set(written) <= recorder.paths())
        assert len(watcher._reported) <= 50
    finally:
        await watcher.stop()

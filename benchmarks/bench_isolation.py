"""Benchmark: isolated agents' git layer on a 10,000-file repository, with its floors.

Per-agent set-up of a working copy (the fast path: an overlay over the run's one shared
checkout; and the fallback: a full ``git worktree add``), median over agents started from the
base and from a tip ahead of it; the shared checkout made once per run; the floors measured in
the same run on the same repository (``git worktree add`` with and without checkout, one overlay
mount); a snapshot of an agent's edits, a state when nothing changed, and merges without a
working tree (``git merge-tree`` alone, then `predict` clean and conflicting). Target: set-up
median <= 0.3 s.

``python -m benchmarks isolation [--files N] [--agents N] [--fallback N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from counterpoint.engine.isolation import RunRefs, WorkingCopies, capture_base, open_repo, predict
from counterpoint.engine.isolation.overlay import mount_overlay, mounts_under, unmount

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: int) -> Path:
    """``files`` source-like files (about 1 KB each) in 10 x 10 folders, committed (one
    ``git fast-import``: a pack at once) and checked out."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "gc.auto", "0")  # no background gc holding locks during the measures
    stream = bytearray()
    tree: list[str] = []
    contents = {".gitignore": ".counterpoint/\nbuild/\n"}
    for n in range(files):
        contents[f"src/pkg{n % 10}/mod{n // 10 % 10}/file{n}.py"] = "".join(
            f"value_{n}_{line} = {line}\n" for line in range(60)
        )
    for mark, (rel, text) in enumerate(contents.items(), start=1):
        data = text.encode()
        stream += b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data)
        tree.append(f"M 100644 :{mark} {rel}\n")
    message = b"10k files"
    stream += b"commit refs/heads/main\nauthor bench <bench@localhost> 0 +0000\n"
    stream += b"committer bench <bench@localhost> 0 +0000\ndata %d\n%s\n" % (len(message), message)
    stream += "".join(tree).encode() + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, env=ENV, input=bytes(stream), check=True)
    git(repo, "-c", "checkout.workers=8", "reset", "-q", "--hard", "main")
    return repo


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


async def atimed(make: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await make()
    return time.perf_counter() - started


def floors(repo: Path, scratch: Path, lower: Path | None, samples: int) -> dict[str, Any]:
    """Plain git and one mount on the same repository, measured next to ours."""
    full: list[float] = []
    bare: list[float] = []
    for n in range(samples):
        target = scratch / f"full{n}"
        full.append(timed(lambda t=target: git(repo, "worktree", "add", "-q", "--detach", str(t), "HEAD")))
        git(repo, "worktree", "remove", "--force", str(target))
    for n in range(5):
        target = scratch / f"bare{n}"
        bare.append(
            timed(
                lambda t=target: git(
                    repo, "worktree", "add", "-q", "--no-checkout", "--detach", str(t), "HEAD"
                )
            )
        )
        git(repo, "worktree", "remove", "--force", str(target))
    result: dict[str, Any] = {
        "worktree_add_s": statistics.median(full),
        "worktree_add_no_checkout_s": statistics.median(bare),
        "overlay_mount_s": None,
    }
    if lower is not None:
        mounts: list[float] = []
        for n in range(10):
            parts = [scratch / f"ovl{n}" / name for name in ("upper", "work", "target")]
            for part in parts:
                part.mkdir(parents=True)
            try:
                mounts.append(timed(lambda p=parts: mount_overlay(lower, p[0], p[1], p[2])))
            except OSError:
                break
            unmount(parts[2])
        result["overlay_mount_s"] = statistics.median(mounts) if mounts else None
    return result


def edit(copy: Path, tag: str, offset: int, count: int = 10) -> None:
    """An agent's work: ``count`` files edited (from file ``offset`` on), 5 added."""
    for n in range(offset, offset + count):
        path = copy / "src" / f"pkg{n % 10}" / f"mod{n // 10 % 10}" / f"file{n}.py"
        if path.exists():
            path.write_text(path.read_text() + f"# {tag}\n")
    for n in range(5):
        (copy / "src" / f"new_{tag}_{n}.py").write_text(f"# new {tag} {n}\n")


async def scenario(files: int, agents: int, fallback: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as tmp:
        root = Path(tmp)
        made = timed(lambda: make_repo(root, files))
        path = root / "repo"
        scratch = root / "scratch"
        scratch.mkdir()
        repo = await open_repo(path)
        refs = RunRefs("20260101-000000-bench0")
        base = await capture_base(repo, refs)
        copies = WorkingCopies(repo, refs, path / ".counterpoint")
        fallback_copies = WorkingCopies(
            repo, RunRefs("20260101-000000-bench1"), path / ".counterpoint", method="worktree"
        )
        try:
            shared = await atimed(lambda: copies.prepare())
            first = await copies.create("agent0", base)
            edit(first.path, "agent0", 100)
            snapshot_s = await atimed(lambda: copies.snapshot(first, "agent0: ready"))
            ahead = first.last_snapshot
            setups = [first.seconds]
            methods = {first.method}
            for n in range(1, agents):
                copy = await copies.create(f"agent{n}", base if n % 2 else ahead)
                setups.append(copy.seconds)
                methods.add(copy.method)
            git_status_s = timed(lambda: git(first.path, "status", "--porcelain"))
            state_same_s = statistics.median([await atimed(lambda: copies.state(first)) for _ in range(5)])
            other = copies.copies["agent1"]
            edit(other.path, "agent1", 200)
            theirs = await copies.state(other)
            merge_tree_s = statistics.median(
                [timed(lambda: git(path, "merge-tree", "--write-tree", ahead, theirs)) for _ in range(5)]
            )
            predict_clean_s = statistics.median(
                [
                    await atimed(lambda: predict(repo, ahead, theirs, ours_label="a", theirs_label="b"))
                    for _ in range(5)
                ]
            )
            clash = first.path / "src" / "pkg0" / "mod0" / "file0.py"  # both edit its first line
            clash.write_text("agent0 was here\n" + clash.read_text())
            other_clash = other.path / "src" / "pkg0" / "mod0" / "file0.py"
            other_clash.write_text("agent1 was here\n" + other_clash.read_text())
            ours_state, theirs_state = await copies.state(first), await copies.state(other)
            conflicts = await predict(
                repo, ours_state, theirs_state, ours_label="agent0", theirs_label="agent1"
            )
            predict_conflict_s = statistics.median(
                [
                    await atimed(
                        lambda: predict(repo, ours_state, theirs_state, ours_label="a", theirs_label="b")
                    )
                    for _ in range(5)
                ]
            )
            removal_s = await atimed(lambda: copies.remove(copies.copies[f"agent{agents - 1}"]))
            fallback_setups = [
                (await fallback_copies.create(f"full{n}", base)).seconds for n in range(fallback)
            ]
            lower = copies.folder / ".base" if "overlay" in methods else None
            floor = floors(path, scratch, lower, samples=max(1, fallback))
        finally:
            await copies.close()
            await fallback_copies.close()
            for point in mounts_under(root):
                unmount(point)
    return {
        "files": files,
        "repo_made_s": made,
        "method": "+".join(sorted(methods)),
        "overlay_problem": copies.overlay_problem,
        "shared_checkout_s": shared,
        "setup_median_s": statistics.median(setups),
        "setup_max_s": max(setups),
        "setups": len(setups),
        "fallback_setup_median_s": statistics.median(fallback_setups) if fallback_setups else None,
        "git_status_in_copy_s": git_status_s,
        "snapshot_s": snapshot_s,
        "state_unchanged_s": state_same_s,
        "merge_tree_s": merge_tree_s,
        "predict_clean_s": predict_clean_s,
        "predict_conflict_s": predict_conflict_s,
        "conflicts_found": len(conflicts),
        "remove_s": removal_s,
        **floor,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_isolation")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--fallback", type=int, default=2, help="full-worktree set-ups (and floor samples)")
    args = parser.parse_args(argv)
    result = asyncio.run(scenario(args.files, args.agents, args.fallback))

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.1f} ms"

    rows = [
        (f"set-up per agent, median of {result['setups']} ({result['method']})", result["setup_median_s"]),
        ("set-up per agent, slowest (the first makes the shared checkout)", result["setup_max_s"]),
        ("  shared checkout, once per run", result["shared_checkout_s"]),
        ("set-up per agent, fallback (full worktree), median", result["fallback_setup_median_s"]),
        ("floor: git worktree add (full checkout)", result["worktree_add_s"]),
        ("floor: git worktree add --no-checkout", result["worktree_add_no_checkout_s"]),
        ("floor: one overlay mount", result["overlay_mount_s"]),
        ("git status in a copy", result["git_status_in_copy_s"]),
        ("snapshot (15 files changed)", result["snapshot_s"]),
        ("state, nothing changed", result["state_unchanged_s"]),
        ("git merge-tree alone", result["merge_tree_s"]),
        ("predict, clean", result["predict_clean_s"]),
        ("predict, one conflict (with line spans)", result["predict_conflict_s"]),
        ("remove a copy", result["remove_s"]),
    ]
    print(f"{'isolation, ' + str(result['files']) + ' files':<68} {'time':>12}")
    for name, value in rows:
        print(f"{name:<68} {ms(value):>12}")
    if result["overlay_problem"]:
        print(f"overlay refused: {result['overlay_problem']}")
    print("target: set-up median <= 300 ms")
    print(json.dumps({"bench": "isolation", **result}))
    return result


if __name__ == "__main__":
    main()

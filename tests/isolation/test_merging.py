"""Merges without a working tree: clean merges make a commit (no ref moves), conflicts name each
side and the clashing lines in that side's own version of the file; predictions touch nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from counterpoint.engine.isolation import RunRefs, WorkingCopies, capture_base, merge, open_repo, predict
from counterpoint.engine.isolation.merging import clashing_lines, parse_hunks
from counterpoint_protocol.events import LineSpan

from tests.isolation.conftest import disk_files, tree_files
from tests.support.git import git

BASE = [f"line {n}\n" for n in range(1, 41)]


def lines_with(changes: dict[int, list[str]], top: list[str] | None = None) -> str:
    """BASE with line n (1-based) replaced by ``changes[n]`` (any number of lines)."""
    out = list(top or [])
    for n, line in enumerate(BASE, start=1):
        out.extend(changes.get(n, [line]))
    return "".join(out)


def branch(repo: Path, name: str, files: dict[str, str | bytes | None]) -> str:
    git(repo, "checkout", "-q", "-b", name, "main")
    for rel, content in files.items():
        if content is None:
            git(repo, "rm", "-q", rel)
        elif isinstance(content, bytes):
            (repo / rel).write_bytes(content)
        else:
            (repo / rel).write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", name)
    git(repo, "checkout", "-q", "main")
    return git(repo, "rev-parse", name).strip()


def spans(*pairs: tuple[int, int]) -> list[LineSpan]:
    return [LineSpan(start=s, end=e) for s, e in pairs]


async def test_clean_merge_of_two_edits_of_one_file(repo_factory: Callable[..., Path]) -> None:
    path = repo_factory({"app.py": "".join(BASE)})
    ours = branch(path, "ours", {"app.py": lines_with({5: ["five, ours\n"]})})
    theirs = branch(path, "theirs", {"app.py": lines_with({30: ["thirty, theirs\n"]})})
    refs_before = git(path, "for-each-ref")
    result = await merge(
        await open_repo(path),
        ours,
        theirs,
        ours_label="backend",
        theirs_label="frontend",
        message="merge frontend",
    )
    assert result.conflicts == [] and result.commit is not None
    assert git(path, "rev-list", "--parents", "-n1", result.commit).split()[1:] == [ours, theirs]
    assert tree_files(path, result.commit)["app.py"].decode() == lines_with(
        {5: ["five, ours\n"], 30: ["thirty, theirs\n"]}
    )
    assert git(path, "for-each-ref") == refs_before
    assert git(path, "log", "-1", "--format=%s", result.commit).strip() == "merge frontend"


async def test_conflict_names_the_clashing_lines_of_each_side(repo_factory: Callable[..., Path]) -> None:
    path = repo_factory({"app.py": "".join(BASE)})
    # ours: lines 10-11 become three lines (10-12 in ours)
    ours = branch(path, "ours", {"app.py": lines_with({10: ["o1\n", "o2\n"], 11: ["o3\n"]})})
    # theirs: five lines on top (no clash) and line 11 changed (line 16 in theirs)
    top = [f"top {n}\n" for n in range(5)]
    theirs = branch(path, "theirs", {"app.py": lines_with({11: ["t11\n"]}, top=top)})
    repo = await open_repo(path)
    result = await merge(repo, ours, theirs, ours_label="backend", theirs_label="frontend", message="m")
    assert result.commit is None and result.tree is not None
    [conflict] = result.conflicts
    assert conflict.path == "app.py" and conflict.kind == "content"
    backend, frontend = conflict.sides
    assert (backend.agent, backend.commit, backend.lines) == ("backend", ours, spans((10, 12)))
    assert (frontend.agent, frontend.commit, frontend.lines) == ("frontend", theirs, spans((16, 16)))
    predicted = await predict(repo, ours, theirs, ours_label="backend", theirs_label="frontend")
    assert predicted == result.conflicts


async def test_kinds_of_conflict(repo_factory: Callable[..., Path]) -> None:
    path = repo_factory({"logo.bin": b"\0\1\2" * 100, "gone.txt": "keep me\n"})
    ours = branch(path, "ours", {"logo.bin": b"\0ours" * 100, "gone.txt": "edited\n", "both.txt": "a\nb\n"})
    theirs = branch(path, "theirs", {"logo.bin": b"\0theirs" * 100, "gone.txt": None, "both.txt": "x\n"})
    files = await predict(await open_repo(path), ours, theirs, ours_label="a", theirs_label="b")
    kinds = {f.path: f.kind for f in files}
    assert kinds == {"both.txt": "add/add", "gone.txt": "modify/delete", "logo.bin": "binary"}
    by_path = {f.path: f for f in files}
    assert [s.lines for s in by_path["both.txt"].sides] == [spans((1, 2)), spans((1, 1))]
    assert all(s.lines == [] for s in by_path["logo.bin"].sides + by_path["gone.txt"].sides)
    assert [s.agent for s in by_path["gone.txt"].sides] == ["a", "b"]


async def test_prediction_between_live_copies_touches_no_working_copy(
    repo_factory: Callable[..., Path],
) -> None:
    path = repo_factory({"app.py": "".join(BASE)})
    repo = await open_repo(path)
    refs = RunRefs("20260103-100000-feed00")
    base = await capture_base(repo, refs)
    copies = WorkingCopies(repo, refs, path / ".counterpoint")
    try:
        one = await copies.create("one", base)
        two = await copies.create("two", base)
        (one.path / "app.py").write_text(lines_with({20: ["one's line\n"]}))
        (two.path / "app.py").write_text(lines_with({20: ["two's line\n"]}))

        def copies_state() -> list[tuple[dict[str, bytes], str, bytes]]:
            """Each copy's files, status and index: what a prediction must leave alone."""
            return [
                (
                    disk_files(c.path),
                    git(c.path, "status", "--porcelain"),
                    (c.admin_dir / "index").read_bytes(),
                )
                for c in (one, two)
                if c.admin_dir
            ]

        before = copies_state()
        refs_before = git(path, "for-each-ref")
        states = [await copies.state(one), await copies.state(two)]
        [conflict] = await predict(repo, states[0], states[1], ours_label="one", theirs_label="two")
        assert [s.lines for s in conflict.sides] == [spans((20, 20)), spans((20, 20))]
        assert copies_state() == before
        assert git(path, "for-each-ref") == refs_before
        assert await predict(repo, base, states[0], ours_label="integration", theirs_label="one") == []
    finally:
        await copies.close()


def test_hunk_headers() -> None:
    diff = "@@ -3 +3 @@\n-a\n+b\n@@ -10,0 +11,2 @@\n+x\n+y\n@@ -20,2 +22,0 @@\n-p\n-q\n"
    assert parse_hunks(diff) == [(3, 1, 3, 1), (10, 0, 11, 2), (20, 2, 22, 0)]


def test_clashing_lines_overlap_touch_and_nearest() -> None:
    # overlapping changes: both reported, in each side's own lines
    assert clashing_lines([(5, 2, 5, 3)], [(6, 1, 8, 1)]) == (spans((5, 7)), spans((8, 8)))
    # adjacent changes clash too (git conflicts on them)
    assert clashing_lines([(5, 1, 5, 1)], [(6, 1, 6, 1)]) == (spans((5, 5)), spans((6, 6)))
    # two insertions at one place clash; a far one does not
    assert clashing_lines([(4, 0, 5, 2), (30, 1, 32, 1)], [(4, 0, 5, 1)]) == (spans((5, 6)), spans((5, 5)))
    # a deletion on one side marks the line it follows
    assert clashing_lines([(8, 2, 7, 0)], [(9, 1, 9, 1)]) == (spans((7, 7)), spans((9, 9)))
    # nothing overlaps (git saw more than -U0 shows): the nearest pair
    assert clashing_lines([(1, 1, 1, 1), (20, 1, 20, 1)], [(25, 1, 25, 1), (40, 1, 40, 1)]) == (
        spans((20, 20)),
        spans((25, 25)),
    )

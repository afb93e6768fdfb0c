"""The run's base: HEAD plus the user's uncommitted changes as one commit, the user's index,
working tree, branch and stash untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from counterpoint.engine.isolation import RunRefs, capture_base, open_repo

from tests.isolation.conftest import disk_files, tree_files
from tests.support.git import git

RUN = "20260101-120000-abc123"


def user_state(repo: Path) -> tuple[object, ...]:
    return (
        (repo / ".git" / "index").read_bytes(),
        git(repo, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
        git(repo, "stash", "list"),
        [
            ref
            for ref in git(repo, "for-each-ref", "refs/heads", "refs/tags").splitlines()
            if "counterpoint/" not in ref
        ],
        disk_files(repo, skip=(".git", ".counterpoint")),
    )


async def test_base_holds_every_uncommitted_change_and_touches_nothing(
    repo_factory: Callable[..., Path],
) -> None:
    repo = repo_factory(
        {
            ".gitignore": "build/\n",
            "kept.txt": "kept\n",
            "edited.txt": "old\n",
            "gone.txt": "bye\n",
            "staged.txt": "s0\n",
        }
    )
    git(repo, "stash", "list")
    (repo / "staged.txt").write_text("s1 staged\n")
    git(repo, "add", "staged.txt")
    (repo / "staged.txt").write_text("s2 staged then edited\n")  # the index holds s1, the tree s2
    (repo / "edited.txt").write_text("new\n")
    (repo / "gone.txt").unlink()
    (repo / "src").mkdir()
    (repo / "src" / "untracked.py").write_text("print(1)\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_bytes(b"\0ignored")
    (repo / ".counterpoint" / "worktrees").mkdir(parents=True)
    (repo / ".counterpoint" / "events.db").write_bytes(b"state")
    before = user_state(repo)

    found = await open_repo(repo)
    refs = RunRefs(RUN)
    base = await capture_base(found, refs)

    assert user_state(repo) == before
    files = tree_files(repo, base)
    assert files == {
        ".gitignore": b"build/\n",
        "kept.txt": b"kept\n",
        "edited.txt": b"new\n",
        "staged.txt": b"s2 staged then edited\n",
        "src/untracked.py": b"print(1)\n",
    }
    assert git(repo, "rev-parse", f"{base}^").strip() == found.head
    assert git(repo, "rev-parse", refs.base).strip() == base
    assert git(repo, "rev-parse", refs.integration).strip() == base
    assert (
        git(repo, "log", "-1", "--format=%an <%ae>", base).strip() == "Counterpoint <counterpoint@localhost>"
    )
    assert "counterpoint" not in git(repo, "branch", "--list", "main")


async def test_base_of_a_clean_tree_has_the_head_tree(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({"a.txt": "a\n"})
    base = await capture_base(await open_repo(repo), RunRefs(RUN))
    assert git(repo, "rev-parse", f"{base}^{{tree}}") == git(repo, "rev-parse", "HEAD^{tree}")


async def test_base_on_an_unborn_branch_has_no_parent(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({"first.txt": "1\n"}, commit=False)
    git(repo, "add", "first.txt")
    (repo / "second.txt").write_text("2\n")
    index_before = (repo / ".git" / "index").read_bytes()
    base = await capture_base(await open_repo(repo), RunRefs(RUN))
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "rev-list", "--parents", "-n1", base).split() == [base]
    assert set(tree_files(repo, base)) == {"first.txt", "second.txt"}
    assert git(repo, "rev-parse", "-q", "--verify", "HEAD", check=False) == ""


async def test_state_folder_of_a_workspace_below_the_top_is_left_out(
    repo_factory: Callable[..., Path],
) -> None:
    repo = repo_factory({"web/index.js": "x\n", ".counterpoint/tracked.txt": "the user's own\n"})
    (repo / "web" / ".counterpoint").mkdir()
    (repo / "web" / ".counterpoint" / "events.db").write_bytes(b"state")
    (repo / "web" / "page.js").write_text("p\n")
    base = await capture_base(await open_repo(repo / "web"), RunRefs(RUN))
    assert set(tree_files(repo, base)) == {"web/index.js", "web/page.js", ".counterpoint/tracked.txt"}


async def test_an_ignored_state_folder_is_no_error(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({".gitignore": ".counterpoint/\n", "a.txt": "a\n"})
    (repo / ".counterpoint").mkdir()
    (repo / ".counterpoint" / "events.db").write_bytes(b"state")
    (repo / "b.txt").write_text("b\n")
    base = await capture_base(await open_repo(repo), RunRefs(RUN))
    assert set(tree_files(repo, base)) == {".gitignore", "a.txt", "b.txt"}

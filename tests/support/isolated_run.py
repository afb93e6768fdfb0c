"""An isolated run made by hand in a real git repository: the commits, branches and refs a run of
two isolated agents leaves (``backend`` and ``frontend``, merged in that order) and the events
that describe them, recorded in the workspace's event log. For the review tests (diff, apply,
discard, showFile) of the engine, the CLI and the language server."""

from __future__ import annotations

import asyncio
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.git import git
from tests.support.git import make_repo as new_repo

MODELS = "".join(f"line {n}\n" for n in range(1, 11))
LOGO = bytes(range(256)) * 4
RUN_ID = "20261202-101500-abc123"


def make_repo(folder: Path) -> Path:
    """A repository with one commit on ``main``: text files, a binary one, one to delete, one to rename;
    the user's identity in its config (for the CLI's and the server's git too)."""
    files: dict[str, str | bytes] = {
        "app/models.py": MODELS,
        "README.md": "# Demo\n",
        "old.txt": "to be deleted\n",
        "name.txt": "".join(f"a line to keep {n}\n" for n in range(20)),
        "logo.bin": LOGO,
        ".gitignore": ".counterpoint/\n",
    }
    repo = new_repo(folder, files)
    git(repo, "config", "user.email", "user@example.com")
    git(repo, "config", "user.name", "User")
    return repo


def commit_files(
    repo: Path, parents: list[str], changes: dict[str, bytes | str | None], message: str = "work"
) -> str:
    """A commit on top of ``parents[0]``'s tree with ``changes`` (None: delete), made with an index
    of its own: the repository's index and working tree are not touched."""
    with tempfile.TemporaryDirectory() as folder:
        env = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        git(repo, "read-tree", parents[0], env=env)
        for path, content in changes.items():
            if content is None:
                git(repo, "update-index", "--force-remove", path, env=env)
                continue
            data = content.encode() if isinstance(content, str) else content
            blob = git(repo, "hash-object", "-w", "--stdin", input=data).strip()
            git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env).strip()
    ident = {
        "GIT_AUTHOR_NAME": "Counterpoint",
        "GIT_AUTHOR_EMAIL": "c@localhost",
        "GIT_COMMITTER_NAME": "Counterpoint",
        "GIT_COMMITTER_EMAIL": "c@localhost",
    }
    args = [arg for parent in parents for arg in ("-p", parent)]
    return git(repo, "commit-tree", *args, "-m", message, tree, env=ident).strip()


BACKEND = {
    "app/models.py": MODELS.replace("line 2\nline 3\n", "line 2 changed\nline 3 changed\nline 3b\n"),
    "app/schema.py": "SCHEMA = 1\n",
    "old.txt": None,
}
FRONTEND: dict[str, bytes | str | None] = {
    "web/page.html": "<h1>Courses</h1>\n",
    "logo.bin": LOGO[::-1],
    "name.txt": None,
    "renamed.txt": "".join(f"a line to keep {n}\n" for n in range(20)),
}


@dataclass
class IsolatedRun:
    root: Path
    run_id: str
    base: str
    integration: str
    starts: dict[str, str] = field(default_factory=dict)
    tips: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str | None, str | None, dict[str, Any]]] = field(default_factory=list)

    @property
    def integration_ref(self) -> str:
        return f"refs/heads/counterpoint/{self.run_id}/integration"

    def agent_ref(self, name: str) -> str:
        return f"refs/heads/counterpoint/{self.run_id}/agents/{name}"


def build_isolated_run(
    root: Path, run_id: str = RUN_ID, *, pid: int | None = None, finished: bool = True
) -> IsolatedRun:
    """The refs and events of a run whose ``backend`` and ``frontend`` worked in copies of their own
    (from the base, HEAD), and were merged into the integration branch, backend first."""
    base = git(root, "rev-parse", "HEAD").strip()
    run = IsolatedRun(root, run_id, base, "")
    git(root, "update-ref", f"refs/counterpoint/{run_id}/base", base)
    merged = base
    copies = root / ".counterpoint" / "worktrees" / run_id
    spec = str(root / "demo.agents.md")
    run.events.append(
        (
            "run_started",
            None,
            "Demo",
            {
                "spec": spec,
                "agents": ["backend", "frontend"],
                "pid": os.getpid() if pid is None else pid,
                "isolation": {
                    "base": base,
                    "integration": run.integration_ref,
                    "toplevel": str(root),
                    "workspace_rel": "",
                },
            },
        )
    )
    for order, (name, changes) in enumerate((("backend", BACKEND), ("frontend", FRONTEND)), start=1):
        tip = commit_files(root, [base], changes, f"{name}: done")
        git(root, "update-ref", run.agent_ref(name), tip)
        run.starts[name], run.tips[name] = base, tip
        merged = commit_files(root, [merged, tip], changes, f"counterpoint: merge {name}")
        branch = f"counterpoint/{run_id}/agents/{name}"
        run.events += [
            (
                "working_copy_created",
                name,
                "worktree",
                {"path": str(copies / name), "branch": branch, "start_commit": base, "method": "worktree"},
            ),
            ("snapshot", name, "done", {"commit": tip, "files": sorted(changes)}),
            (
                "agent_merged",
                name,
                "clean",
                {
                    "commit": merged,
                    "branch": branch,
                    "files": len(changes),
                    "added": 3,
                    "removed": 2,
                    "order": order,
                },
            ),
        ]
    git(root, "update-ref", run.integration_ref, merged)
    run.integration = merged
    if finished:
        run.events.append(("run_finished", None, "succeeded", {"wall_s": 1.0}))
    return run


async def record(run: IsolatedRun, *, finished: bool = True) -> None:
    """Write the run's events into the workspace's event log (and its row in the runs table)."""
    from counterpoint.engine.log import EventLog
    from counterpoint.engine.workspace import db_path

    log = await EventLog.open(db_path(run.root))
    try:
        await log.record_run(run.run_id, str(run.root / "demo.agents.md"), os.getpid())
        for kind, actor, action, metadata in run.events:
            await log.append(run.run_id, kind, actor, action, metadata)
        if finished:
            await log.finish_run(run.run_id, "succeeded")
    finally:
        await log.close()


def recorded_run(root: Path, **kw: Any) -> IsolatedRun:
    """`build_isolated_run` and `record`, from synchronous code (on a thread of its own, so that
    it works under a running event loop too, as in pytest-lsp's fixtures)."""
    finished = kw.get("finished", True)
    run = build_isolated_run(root, **kw)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, record(run, finished=finished)).result()
    return run

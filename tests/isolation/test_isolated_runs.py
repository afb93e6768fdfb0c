"""Isolated agents end to end through a real `Engine`, on real git repositories the tests make:
clean merges, work handed on at signals, conflicts predicted then met, shell writes attributed,
the user's tree untouched, nothing left behind."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunOptions
from counterpoint_protocol.events import Event

from tests.integration.helpers import RunResult, emit, think, write, write_spec
from tests.support.git import git, make_repo

pytestmark = pytest.mark.asyncio
LINES = [f"line {n}\n" for n in range(1, 31)]


def app_repo(folder: Path) -> Path:
    """A repository with ``app.py`` (`LINES`) committed; ``.counterpoint/`` and ``build/`` ignored."""
    return make_repo(folder, {".gitignore": ".counterpoint/\nbuild/\n", "app.py": "".join(LINES)})


def tree_digest(repo: Path) -> dict[str, str]:
    """Every file of the user's working tree (not .git, not .counterpoint) -> its sha256."""
    found = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel.split("/")[0] in (".git", ".counterpoint") or not path.is_file():
            continue
        found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def user_state(repo: Path) -> tuple[Any, ...]:
    return (
        tree_digest(repo),
        git(repo, "status", "--porcelain"),
        (repo / ".git" / "index").read_bytes(),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
    )


def edit_line(n: int, text: str) -> dict[str, Any]:
    return {"action": "edit_file", "path": "app.py", "search": f"line {n}\n", "replace": f"{text}\n"}


def wait(signal: str) -> dict[str, Any]:
    return {"action": "wait", "signal": signal, "timeout": 120}


async def run_isolated(
    spec_path: Path, on_event: Callable[[Event], None] | None = None, **options: Any
) -> RunResult:
    spec = await read_spec(spec_path)
    assert not spec.has_errors, spec.diagnostics
    engine = await Engine.open(spec_path.parent)
    unsubscribe = engine.log.subscribe(on_event) if on_event else None
    try:
        run = await engine.start_run(spec, RunOptions(**options))
        report = await engine.execute(run)
        events = await engine.events(run.run_id)
    finally:
        if unsubscribe is not None:
            unsubscribe()
        await engine.aclose()
    return RunResult(run, spec, run.result_status, events, report)


def leftovers(repo: Path) -> list[str]:
    """Working copies, mounts and worktrees a run may have left."""
    found = [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]
    found = found[1:]  # the main working tree is not a leftover
    copies = repo / ".counterpoint" / "worktrees"
    if copies.exists():
        # (the last shared checkout, ``.lower``, is kept for the next run on purpose: no copy)
        found += [str(p) for p in copies.iterdir() if p.is_dir() and not p.name.startswith(".lower")]
    with open("/proc/self/mountinfo") as mounts:
        found += [line for line in mounts if str(repo) in line]
    return found


SPEC_TWO = """---
isolation: worktree
---
# Two agents, one file

## top
transcript: transcripts/top.jsonl
- edit the top of app.py

## bottom
transcript: transcripts/bottom.jsonl
- edit the bottom of app.py
"""


async def test_two_agents_editing_different_parts_of_one_file_merge_cleanly(tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "repo")
    (repo / "notes.txt").write_text("the user's own uncommitted work\n")
    git(repo, "add", "notes.txt")  # staged by hand: must stay staged
    (repo / "app.py").write_text("".join(LINES) + "user's unsaved line\n")
    spec = write_spec(
        repo,
        SPEC_TWO,
        {"top": [edit_line(2, "TOP"), think(0.1)], "bottom": [edit_line(28, "BOTTOM"), think(0.1)]},
    )
    before = user_state(repo)

    result = await run_isolated(spec)

    assert result.status == "succeeded", [e.model_dump() for e in result.events if e.type == "agent_finished"]
    assert user_state(repo) == before  # byte-identical until apply
    assert result.findings("integration") == []  # two writers of app.py, each in its own copy: no clash
    started = result.of("run_started")[0].metadata["isolation"]
    merged = result.of("agent_merged")
    assert sorted(e.actor for e in merged) == ["bottom", "top"]
    assert [e.metadata["order"] for e in merged] == [1, 2]
    final = git(repo, "show", f"{started['integration']}:app.py")
    assert "TOP\n" in final and "BOTTOM\n" in final
    assert "user's unsaved line\n" in final  # the base holds the user's uncommitted work
    assert git(repo, "show", f"{started['base']}:notes.txt") == "the user's own uncommitted work\n"
    for event in result.of("working_copy_created"):
        assert Path(event.metadata["path"]).is_relative_to(repo / ".counterpoint")
    assert leftovers(repo) == []


SPEC_HANDOFF = """---
isolation: worktree
signals:
  schema_ready: "schema.py"
---
# Hand-off

## backend
transcript: transcripts/backend.jsonl
emits: schema_ready

## frontend
needs: schema_ready
transcript: transcripts/frontend.jsonl
"""


async def test_a_dependent_agent_starts_from_its_dependencys_snapshot(tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "repo")
    schema = "class Course:\n    seats: int\n"
    spec = write_spec(
        repo,
        SPEC_HANDOFF,
        {
            "backend": [write("schema.py", schema), wait("frontend_read"), write("later.py", "x = 1\n")],
            "frontend": [
                {"action": "read_file", "path": "schema.py"},
                emit("frontend_read"),
                write("page.py", "from schema import Course\n"),
            ],
        },
    )
    result = await run_isolated(spec)

    assert result.status == "succeeded"
    signal = next(e for e in result.of("signal") if e.action == "schema_ready")
    assert signal.metadata["by"] == "backend" and signal.metadata["commit"]
    created = next(e for e in result.of("working_copy_created", "frontend"))
    assert created.metadata["signals"] == ["schema_ready"]
    start = created.metadata["start_commit"]
    assert git(repo, "show", f"{start}:schema.py") == schema
    # The frontend started while the backend still worked (it waited for the frontend's read).
    assert result.position("working_copy_created", "frontend") < result.position("agent_finished", "backend")
    read = [e for e in result.of("tool_call", "frontend") if e.action == "read_file"]
    assert read and not read[0].metadata.get("error")
    integration = result.of("run_started")[0].metadata["isolation"]["integration"]
    assert set(git(repo, "ls-tree", "--name-only", integration).split()) >= {
        "schema.py",
        "later.py",
        "page.py",
    }


SPEC_CLASH = """---
isolation: worktree
signals:
  go: "go.txt"
---
# Clash

## left
transcript: transcripts/left.jsonl

## right
transcript: transcripts/right.jsonl

## fixer
integrate: true
transcript: transcripts/fixer.jsonl
"""


async def test_same_lines_predicted_while_both_run_then_a_conflict_the_integrator_resolves(
    tmp_path: Path,
) -> None:
    repo = app_repo(tmp_path / "repo")
    resolved = "".join(LINES).replace("line 5\n", "LEFT and RIGHT\n")
    spec = write_spec(
        repo,
        SPEC_CLASH,
        {
            "left": [edit_line(5, "LEFT"), wait("go")],
            "right": [edit_line(5, "RIGHT"), wait("go"), think(0.2)],
            "fixer": [write("app.py", resolved)],
        },
    )
    seen: list[str] = []

    def on_event(event: Event) -> None:  # the test lets the agents end once the conflict is predicted
        seen.append(event.type)
        if event.type == "conflict_predicted" and not (repo / "go.txt").exists():
            (repo / "go.txt").write_text("go\n")

    result = await asyncio.wait_for(run_isolated(spec, on_event), 120)

    assert result.status == "succeeded", [
        (e.actor, e.metadata.get("error")) for e in result.of("agent_finished")
    ]
    predicted = result.of("conflict_predicted")
    assert predicted and set(predicted[0].metadata["agents"]) == {"left", "right"}
    file = predicted[0].metadata["files"][0]
    assert file["path"] == "app.py"
    assert all(side["lines"] == [{"start": 5, "end": 5}] for side in file["sides"])
    conflict = result.of("merge_conflict")
    assert len(conflict) == 1
    assert result.position("conflict_predicted") < result.position("agent_finished", "left")
    assert result.position("conflict_predicted") < result.position("merge_conflict")
    sides = {s["agent"] for f in conflict[0].metadata["files"] for s in f["sides"]}
    assert sides == {"left", "right"}
    findings = result.findings("conflicts")
    assert (
        findings
        and findings[0]["rule"] == "merge-conflict"
        and findings[0]["abs_path"] == str(repo / "app.py")
    )
    integration = result.of("run_started")[0].metadata["isolation"]["integration"]
    assert git(repo, "show", f"{integration}:app.py") == resolved
    last = [e for e in result.events if e.type == "check_finished" and e.actor == "conflicts"][-1]
    assert last.action == "passed" and last.metadata["keys"] == []
    assert leftovers(repo) == []


SPEC_SHELL = """---
isolation: worktree
signals:
  built: "out/result.txt"
---
# Shell

## maker
transcript: transcripts/maker.jsonl
"""


async def test_a_write_through_a_shell_command_is_the_agents(tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "repo")
    spec = write_spec(
        repo,
        SPEC_SHELL,
        {
            "maker": [
                {
                    "action": "run",
                    "command": "mkdir -p out build && echo made > out/result.txt && echo junk > build/x.o",
                },
                think(0.3),
            ]
        },
    )
    result = await run_isolated(spec, trust=True)

    assert result.status == "succeeded"
    signal = next(e for e in result.of("signal") if e.action == "built")
    assert signal.metadata["by"] == "maker" and signal.metadata["attribution"] == "copy"
    commit = signal.metadata["commit"]
    assert git(repo, "show", f"{commit}:out/result.txt") == "made\n"
    assert "build" not in git(repo, "ls-tree", "--name-only", commit).split()  # ignored: not in snapshots
    assert not (repo / "out").exists()


async def test_not_a_git_repository_is_refused_before_anything_starts(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    spec = write_spec(folder, SPEC_SHELL, {"maker": [think(0.1)]})
    engine = await Engine.open(folder)
    try:
        with pytest.raises(Exception, match=r"not .*git") as caught:
            await engine.start_run(await read_spec(spec), RunOptions())
        assert "git init" in str(caught.value) or "repository" in str(caught.value)
        assert await engine.events() == []
    finally:
        await engine.aclose()


@pytest.mark.filterwarnings("ignore")
def test_spec_settings_in_schema() -> None:
    schema = json.loads(
        (
            Path(__file__).parents[2] / "protocol/counterpoint_protocol/schemas/agent-settings.schema.json"
        ).read_text()
    )
    assert schema["properties"]["isolation"]["enum"] == ["shared", "worktree"]


async def test_many_agents_starting_at_once_each_get_a_copy(tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "repo")
    names = [f"agent{n}" for n in range(8)]
    text = "---\nisolation: worktree\n---\n# Many\n" + "".join(
        f"\n## {name}\ntranscript: transcripts/{name}.jsonl\n" for name in names
    )
    spec = write_spec(repo, text, {name: [write(f"{name}.txt", name)] for name in names})
    result = await run_isolated(spec)

    assert result.status == "succeeded", [
        (e.actor, e.metadata.get("error")) for e in result.of("agent_finished")
    ]
    assert sorted(e.actor for e in result.of("agent_merged")) == names
    integration = result.of("run_started")[0].metadata["isolation"]["integration"]
    assert set(git(repo, "ls-tree", "--name-only", integration).split()) >= {f"{n}.txt" for n in names}
    assert leftovers(repo) == []


async def test_an_agents_git_stops_at_its_copy(tmp_path: Path) -> None:
    """An agent's processes get GIT_CEILING_DIRECTORIES: with its copy's .git gone, its git finds
    no repository rather than the user's (the copy lies inside the user's working tree)."""
    repo = app_repo(tmp_path / "repo")
    spec = write_spec(
        repo,
        SPEC_SHELL,
        {
            "maker": [
                {
                    "action": "run",
                    "command": 'mkdir -p out && echo "$GIT_CEILING_DIRECTORIES" > out/result.txt',
                }
            ]
        },
    )
    result = await run_isolated(spec, trust=True)

    assert result.status == "succeeded"
    commit = next(e for e in result.of("signal") if e.action == "built").metadata["commit"]
    ceilings = git(repo, "show", f"{commit}:out/result.txt").strip().split(os.pathsep)
    copy = Path(result.of("working_copy_created", "maker")[0].metadata["path"])
    assert str(copy.parent) in ceilings


SPEC_POLICY = """---
isolation: worktree
signals:
  go: "go.txt"
---
# Policy

## left
transcript: transcripts/left.jsonl

## right
transcript: transcripts/right.jsonl
on_conflict: {policy}
"""


@pytest.mark.parametrize("policy", ["fail", "restart"])
async def test_on_conflict_fail_or_restart(tmp_path: Path, policy: str) -> None:
    """fail: the second agent fails, its copy kept for a look; restart: it runs again on the new
    tip (which holds the first agent's work), with the conflict in its task, and then merges."""
    repo = app_repo(tmp_path / "repo")
    mine = "".join(LINES).replace("line 5\n", "RIGHT\n")
    spec = write_spec(
        repo,
        SPEC_POLICY.replace("{policy}", policy).replace("## right\n", "## right\nemits: right_wrote\n"),
        {
            "left": [edit_line(5, "LEFT"), wait("right_wrote")],
            # writes line 5, then waits until left is merged (the test writes go.txt): a conflict
            "right": [write("app.py", mine), emit("right_wrote"), wait("go")],
        },
    )

    def on_event(event: Event) -> None:
        if event.type == "agent_merged" and event.actor == "left":
            (repo / "go.txt").write_text("go\n")

    result = await run_isolated(spec, on_event)

    assert len(result.of("merge_conflict", "right")) == 1
    finished = {e.actor: (e.action, e.metadata.get("error")) for e in result.of("agent_finished")}
    integration = result.of("run_started")[0].metadata["isolation"]["integration"]
    if policy == "fail":
        assert finished["right"][0] == "failed" and "conflicts with left" in str(finished["right"][1])
        assert result.status == "failed"
        assert [line for line in leftovers(repo) if line.endswith(result.run.run_id)], (
            "a failed agent's copy is kept"
        )
        assert "LEFT\n" in git(repo, "show", f"{integration}:app.py")
        await discard(repo, result.run.run_id)
        assert leftovers(repo) == []
    else:
        assert result.status == "succeeded", finished
        starts = result.of("working_copy_created", "right")
        assert len(starts) == 2  # the restart made a new copy from the new tip, holding left's work
        assert "LEFT\n" in git(repo, "show", f"{starts[1].metadata['start_commit']}:app.py")
        assert git(repo, "show", f"{integration}:app.py") == mine  # its second run's work, merged
        assert leftovers(repo) == []


async def discard(repo: Path, run_id: str) -> None:
    engine = await Engine.open(repo)
    try:
        await engine.discard_run(run_id)
    finally:
        await engine.aclose()

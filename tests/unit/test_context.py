"""Tests for shared context: read once per run, the same text for every agent, metrics of what it saved."""

from __future__ import annotations

from pathlib import Path

from counterpoint.engine.log import EventLog
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.workspace.context import SharedContext, approx_tokens, load_shared_context
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec


async def test_loads_the_named_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "AGENTS.md").write_text("Rules.\n")
    (tmp_path / "docs" / "ontology.md").write_text("Course, Enrollment.\n")
    shared = await load_shared_context(tmp_path, ["docs/ontology.md", "AGENTS.md"])
    assert [f.path for f in shared.files] == ["docs/ontology.md", "AGENTS.md"]
    assert shared.missing == ()
    assert shared.text == (
        "<file path='docs/ontology.md'>\nCourse, Enrollment.\n</file>\n"
        "<file path='AGENTS.md'>\nRules.\n</file>\n"
    )


async def test_missing_files_are_listed(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("Rules.\n")
    (tmp_path / "a_folder").mkdir()
    shared = await load_shared_context(tmp_path, ["AGENTS.md", "nope.md", "a_folder", "x/y.md"])
    assert [f.path for f in shared.files] == ["AGENTS.md"]
    assert shared.missing == ("nope.md", "a_folder", "x/y.md")
    assert shared.metrics(2)["missing"] == ["nope.md", "a_folder", "x/y.md"]


async def test_files_outside_the_workspace_are_not_read(tmp_path: Path) -> None:
    """The spec comes from an untrusted workspace: its context must not pull in the user's files."""
    root = tmp_path / "ws"
    spec_dir = root / "specs"
    spec_dir.mkdir(parents=True)
    (root / "AGENTS.md").write_text("Repo rules.\n")
    (tmp_path / "secret.txt").write_text("TOKEN=hunter2\n")
    (spec_dir / "link.md").symlink_to(tmp_path / "secret.txt")
    names = ["../AGENTS.md", "../../secret.txt", str(tmp_path / "secret.txt"), "link.md"]
    shared = await load_shared_context(spec_dir, names, root=root)
    assert [f.path for f in shared.files] == ["../AGENTS.md"]
    assert shared.missing == tuple(names[1:])
    assert "hunter2" not in shared.text


async def test_default_is_agents_md_when_present(tmp_path: Path) -> None:
    assert await load_shared_context(tmp_path, None) == SharedContext()
    (tmp_path / "AGENTS.md").write_text("Rules.\n")
    shared = await load_shared_context(tmp_path, None)
    assert [f.path for f in shared.files] == ["AGENTS.md"]
    assert shared.missing == ()


async def test_metrics_count_bytes_and_tokens_once_and_per_agent(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("Größe: ünïcödé counts as UTF-8 bytes.\n" * 10)
    shared = await load_shared_context(tmp_path, ["AGENTS.md"])
    assert shared.bytes == len(shared.text.encode("utf-8")) > len(shared.text)
    assert shared.tokens == approx_tokens(shared.text) == -(-len(shared.text) // 4)
    metrics = shared.metrics(5)
    assert metrics == {
        "files": ["AGENTS.md"],
        "missing": [],
        "bytes_loaded": shared.bytes,
        "tokens_loaded": shared.tokens,
        "agents": 5,
        "bytes_per_agent_load": shared.bytes * 5,
        "tokens_per_agent_load": shared.tokens * 5,
    }


def command_agent(name: str, command: str, line: int, needs: list[str] | None = None) -> AgentSpec:
    where = SourceRange.on_line(line, 0, len(name) + 3)
    return AgentSpec(
        name=name,
        settings=AgentSettings(runner="command", command=command, needs=needs or []),
        task=f"task of {name}",
        heading_range=where,
        name_range=where,
        section_end_line=line + 2,
    )


async def test_read_once_per_run_and_the_same_for_every_agent(tmp_path: Path) -> None:
    """The first agent rewrites AGENTS.md; agents started later still get the text read at the start."""
    (tmp_path / "AGENTS.md").write_text("Original rules.\n")
    (tmp_path.parent / f"{tmp_path.name}-secret.txt").write_text("TOKEN=hunter2\n")
    save = 'cat > "stdin_$COUNTERPOINT_AGENT.txt"'
    agents = [
        command_agent("first", f"{save}; echo 'Changed rules.' > AGENTS.md", 3),
        command_agent("second", save, 6, needs=["first"]),
        command_agent("third", save, 9, needs=["second"]),
    ]
    context = ["AGENTS.md", f"../{tmp_path.name}-secret.txt"]
    spec = Spec(path=str(tmp_path / "t.agents.md"), agents=agents, context=context)
    log = await EventLog.open(tmp_path / ".counterpoint" / "events.db")
    try:
        run = Run(spec, log, tmp_path, RunOptions(watch=False, trust=True))
        assert await run.execute() == "succeeded"
        loaded = await log.query(run.run_id, "context_loaded")
    finally:
        await log.close()
    assert (tmp_path / "AGENTS.md").read_text() == "Changed rules.\n"
    prompts = {name: (tmp_path / f"stdin_{name}.txt").read_text() for name in ("first", "second", "third")}
    prefixes = {name: text.split("# Task for agent")[0] for name, text in prompts.items()}
    assert len(set(prefixes.values())) == 1
    assert "Original rules." in prefixes["third"]
    assert "Changed rules." not in prompts["third"]
    assert not any("hunter2" in text for text in prompts.values())
    assert len(loaded) == 1
    assert loaded[0].metadata["files"] == ["AGENTS.md"]
    assert loaded[0].metadata["missing"] == [f"../{tmp_path.name}-secret.txt"]
    assert loaded[0].metadata["agents"] == 3
    assert loaded[0].metadata["bytes_per_agent_load"] == 3 * loaded[0].metadata["bytes_loaded"]

"""What the director reads first: the repository's layout, languages, tests, commands with their
check format, role files, shared context and specs — through the confined tools (never .git,
.counterpoint or what lies outside)."""

from __future__ import annotations

from pathlib import Path

from counterpoint.engine.director.review import review
from counterpoint.engine.director.survey import Command, Survey, survey
from counterpoint.engine.spec import load_spec
from counterpoint.engine.workspace import ToolCall, WorkspaceTools


async def test_the_overview_names_commands_formats_roles_and_context(project: Path, tmp_path: Path) -> None:
    (project / "package.json").write_text(
        '{"scripts": {"test": "vitest run", "lint": "eslint src", "build": "vite"}}'
    )
    (project / "Makefile").write_text("test:\n\tpytest\nlint:\n\truff check .\nVAR := 1\nhelp:\n\techo\n")
    (project / ".github" / "workflows").mkdir(parents=True)
    (project / ".github" / "workflows" / "ci.yml").write_text(
        "jobs:\n  t:\n    steps:\n      - run: |\n          pip install -e .\n          pytest -q\n"
    )
    (project / "web").mkdir()
    (project / "web" / "app.test.ts").write_text("test('x', () => {})\n")
    (project / "old.agents.md").write_text("# old\n")
    (project / ".git" / "secret.py").write_text("x = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.py").write_text("y = 2\n")
    (project / "link").symlink_to(outside)
    calls: list[ToolCall] = []

    async def record(call: ToolCall) -> None:
        calls.append(call)

    found = await survey(WorkspaceTools(project, project, recorder=record), "director")
    text = found.text()
    runs = {c.run: c.format for c in found.commands}
    assert runs["python -m pytest -q --junitxml=.counterpoint/junit.xml"] == "junit:.counterpoint/junit.xml"
    assert runs["ruff check --output-format=concise ."] == "gcc"
    assert runs["npm run test"] == "none" and runs["npx eslint -f unix ."] == "gcc"
    assert runs["make test"] == "none" and runs["make lint"] == "none" and "make help" not in runs
    assert "npm run build" not in runs
    assert found.ci_lines == ["pip install -e .", "pytest -q"]
    assert found.roles == [
        {
            "name": "backend-dev",
            "description": "Builds the domain model and its mutations",
            "tools": "read_file, write_file, edit_file, search",
        }
    ]
    assert found.context == ["AGENTS.md"] and found.specs == ["old.agents.md"]
    assert "Python" in text and "TypeScript" in text and "Tests live in: tests/ (1)" in text
    assert (
        "backend-dev: Builds the domain model" in text and "run: ruff check --output-format=concise ." in text
    )
    assert not any(f.startswith(".git/") or "far.py" in f for f in found.files), found.files
    assert {c.tool for c in calls} >= {"list_files", "read_file"} and {c.actor for c in calls} == {"director"}


def review_of(text: str, project: Path) -> list[str]:
    spec = load_spec(text, project / "x.agents.md", check_files=False)
    return [f"{d.code}: {d.message}" for d in review(spec, _empty_survey())]


def _empty_survey() -> Survey:
    return Survey(commands=[Command("make test", "none", "Makefile")])


def test_the_review_of_a_draft_that_passes(project: Path) -> None:
    front = (
        "---\nrunner: replay\nchecks:\n  - name: lint\n    run: {run}\n    format: {form}\n---\n# F\n## a\n"
    )
    assert (
        review_of(
            front.format(run="ruff check --output-format=concise .", form="gcc") + "## i\nintegrate: true\n",
            project,
        )
        == []
    )
    notes = review_of(front.format(run="ruff check .", form="gcc"), project)
    assert any(n.startswith("director-check-format: the check 'lint' runs ruff") for n in notes)
    assert any(n.startswith("director-no-integrator") for n in notes)
    assert review_of(front.format(run="npx eslint src", form="gcc"), project)[-1].startswith(
        "director-check-format"
    )
    assert review_of(front.format(run="python -m pytest -q", form="junit:r.xml"), project)[-1].endswith(
        "add --junitxml=<the file>"
    )
    bare = review_of("---\nrunner: replay\n---\n# F\n## a\n## i\nintegrate: true\n", project)
    assert bare == [
        "director-no-checks: no checks, though this repository has its commands: make test (format: none)"
    ]

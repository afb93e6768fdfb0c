"""What the director reads about a repository before it plans: its layout and languages, where
its tests live, the test and lint commands it already has, its Claude Code role files, its shared
context and its specs.

Everything is read through the confined workspace tools (`WorkspaceTools`: nothing outside the
workspace, never ``.git`` or ``.counterpoint``, each call recorded), so the survey is what the
model's own tools would see. `survey` returns a `Survey`; `Survey.text` is what the model reads.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from counterpoint.engine.runners.llm_models import parse_role
from counterpoint.engine.workspace import ToolError, WorkspaceTools

LANGUAGES = {
    ".py": "Python",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".js": "JavaScript",
    ".jsx": "JavaScript",
    ".mjs": "JavaScript",
    ".go": "Go",
    ".rs": "Rust",
    ".java": "Java",
    ".kt": "Kotlin",
    ".rb": "Ruby",
    ".php": "PHP",
    ".cs": "C#",
    ".c": "C",
    ".h": "C",
    ".cpp": "C++",
    ".hpp": "C++",
    ".swift": "Swift",
    ".lua": "Lua",
    ".sh": "Shell",
    ".sql": "SQL",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".css": "CSS",
    ".html": "HTML",
}
CONTEXT_NAMES = ("AGENTS.md", "CLAUDE.md", "CONTRIBUTING.md", "README.md")
TEST_FILE = re.compile(r"(^|/)(test_[^/]*\.py|[^/]*_test\.(py|go)|[^/]*\.(test|spec)\.[jt]sx?)$")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", re.MULTILINE)
INTERESTING_TARGETS = ("test", "tests", "check", "lint", "typecheck", "format", "fmt", "ci")
MAX_FOLDERS = 25
SAMPLES = 4
JUNIT = ".counterpoint/junit.xml"


@dataclass(frozen=True)
class Command:
    """A command the repository already has, as a check: its command line and ``format:``."""

    run: str
    format: str
    source: str
    """Where it was found (``pyproject.toml [tool.pytest.ini_options]``, ``package.json``...)."""


@dataclass
class Survey:
    files: list[str] = field(default_factory=list)
    languages: Counter[str] = field(default_factory=Counter)
    commands: list[Command] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    specs: list[str] = field(default_factory=list)
    ci_lines: list[str] = field(default_factory=list)

    def add(self, command: Command) -> None:
        if all(c.run != command.run for c in self.commands):
            self.commands.append(command)

    def text(self) -> str:
        """The overview the model reads (plain text, a few dozen lines)."""
        out = [f"{len(self.files)} files" + (" (listing cut off)" if len(self.files) > 5000 else "")]
        if self.languages:
            out.append(
                "Languages (files): " + ", ".join(f"{k} {v}" for k, v in self.languages.most_common(8))
            )
        out.append("Layout (folder: files, examples):")
        out.extend(f"  {line}" for line in _layout(self.files))
        tests = [f for f in self.files if TEST_FILE.search(f)]
        if tests:
            folders = Counter(str(PurePosixPath(f).parent) for f in tests)
            out.append("Tests live in: " + ", ".join(f"{d}/ ({n})" for d, n in folders.most_common(6)))
        out.append("Test and lint commands this repository has (use them in checks, with this format):")
        out.extend(f"  - run: {c.run}   format: {c.format}   (from {c.source})" for c in self.commands)
        if not self.commands:
            out.append("  (none found: a check may run the project's tests the usual way for its language)")
        if self.ci_lines:
            out.append("Commands its CI runs: " + "; ".join(self.ci_lines[:8]))
        if self.roles:
            out.append("Role files (.claude/agents/; an agent may take one with `role: <name>`):")
            for role in self.roles:
                extra = f" [tools: {role['tools']}]" if role.get("tools") else ""
                out.append(f"  - {role['name']}: {role['description'] or '(no description)'}{extra}")
        else:
            out.append("Role files: none in .claude/agents/")
        out.append("Shared context files present: " + (", ".join(self.context) or "none"))
        if self.specs:
            out.append("Specs already here: " + ", ".join(self.specs))
        return "\n".join(out) + "\n"


def _layout(files: list[str]) -> list[str]:
    folders: dict[str, list[str]] = {}
    top: list[str] = []
    for path in files:
        head, sep, _ = path.partition("/")
        if sep:
            folders.setdefault(head, []).append(path)
        else:
            top.append(path)
    lines = []
    for name, inside in sorted(folders.items(), key=lambda kv: -len(kv[1]))[:MAX_FOLDERS]:
        subfolders = sorted({str(PurePosixPath(p).parent) for p in inside})
        sample = ", ".join(inside[:SAMPLES])
        lines.append(f"{name}/: {len(inside)} files in {len(subfolders)} folders; e.g. {sample}")
    if top:
        lines.append("top level: " + ", ".join(top[:30]) + (" ..." if len(top) > 30 else ""))
    return lines


async def survey(tools: WorkspaceTools, actor: str) -> Survey:
    """Survey the workspace ``tools`` are rooted at (each read recorded as ``actor``'s)."""
    found = Survey()
    try:
        found.files = await tools.list_files(actor, ".")
    except ToolError:
        found.files = []
    names = set(found.files)
    for path in found.files:
        language = LANGUAGES.get(PurePosixPath(path).suffix.lower())
        if language:
            found.languages[language] += 1

    async def read(path: str) -> str | None:
        if path not in names:
            return None
        try:
            return await tools.read_file(actor, path)
        except ToolError:
            return None

    if (text := await read("pyproject.toml")) is not None:
        _pyproject(found, text, names)
    for name in ("pytest.ini", "tox.ini", "setup.cfg"):
        if (text := await read(name)) is not None and ("[pytest]" in text or "[tool:pytest]" in text):
            found.add(_pytest_command(name))
    if any(p.endswith(".py") and TEST_FILE.search(p) for p in names) and not any(
        "pytest" in c.run for c in found.commands
    ):
        found.add(Command(f"python -m pytest -q --junitxml={JUNIT}", f"junit:{JUNIT}", "test_*.py files"))
    if (text := await read("package.json")) is not None:
        _package_json(found, text)
    if (text := await read("Makefile")) is not None:
        targets = [t for t in MAKE_TARGET.findall(text) if t in INTERESTING_TARGETS]
        for target in dict.fromkeys(targets):
            found.add(Command(f"make {target}", "none", "Makefile"))
    if "Cargo.toml" in names:
        found.add(Command("cargo test", "none", "Cargo.toml"))
        found.add(Command("cargo clippy --message-format=short", "gcc", "Cargo.toml"))
    if "go.mod" in names:
        found.add(Command("go test ./...", "none", "go.mod"))
        found.add(Command("go vet ./...", "gcc", "go.mod"))
    for path in sorted(
        p for p in names if p.startswith(".github/workflows/") and p.endswith((".yml", ".yaml"))
    ):
        if (text := await read(path)) is not None:
            found.ci_lines.extend(_workflow_runs(text))
    for path in sorted(p for p in names if p.startswith(".claude/agents/") and p.endswith(".md")):
        if (text := await read(path)) is not None:
            found.roles.append(_role(path, text))
    found.context = [name for name in CONTEXT_NAMES if name in names]
    found.specs = sorted(p for p in names if p.endswith(".agents.md"))
    return found


def _pytest_command(source: str) -> Command:
    return Command(f"python -m pytest -q --junitxml={JUNIT}", f"junit:{JUNIT}", source)


def _pyproject(found: Survey, text: str, names: set[str]) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    deps = json.dumps([data.get("project", {}), data.get("dependency-groups", {})]).lower()
    if "pytest" in tool or "pytest" in deps:
        found.add(_pytest_command("pyproject.toml [tool.pytest]" if "pytest" in tool else "pyproject.toml"))
    if "ruff" in tool or "ruff" in deps:
        found.add(Command("ruff check --output-format=concise .", "gcc", "pyproject.toml [tool.ruff]"))
    if "mypy" in tool or "mypy.ini" in names:
        found.add(Command("mypy", "gcc", "pyproject.toml [tool.mypy]"))
    if "pyright" in tool:
        found.add(Command("pyright", "gcc", "pyproject.toml [tool.pyright]"))


def _package_json(found: Survey, text: str) -> None:
    try:
        data = json.loads(text)
    except ValueError:
        return
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if not isinstance(scripts, dict):
        return
    for name, line in scripts.items():
        if not isinstance(line, str) or name not in (*INTERESTING_TARGETS, "test:unit", "lint:check"):
            continue
        if "eslint" in line:
            found.add(Command("npx eslint -f unix .", "gcc", f"package.json scripts.{name}: {line}"))
        elif "tsc" in line:
            found.add(
                Command("npx tsc --noEmit --pretty false", "gcc", f"package.json scripts.{name}: {line}")
            )
        else:
            found.add(Command(f"npm run {name}", "none", f"package.json scripts.{name}: {line}"))


def _workflow_runs(text: str) -> list[str]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    runs: list[str] = []
    jobs = data.get("jobs", {}) if isinstance(data, dict) else {}
    for job in jobs.values() if isinstance(jobs, dict) else []:
        for step in job.get("steps", []) if isinstance(job, dict) else []:
            if isinstance(step, dict) and isinstance(step.get("run"), str):
                runs.extend(line.strip() for line in step["run"].splitlines() if line.strip())
    return runs


def _role(path: str, text: str) -> dict[str, Any]:
    name = PurePosixPath(path).stem
    try:
        role = parse_role(text, name)
    except yaml.YAMLError:
        return {"name": name, "description": "(its front matter is not valid YAML)", "tools": ""}
    tools = ", ".join(role.tools) if role.tools is not None else ""
    return {"name": name, "description": role.description[:200], "tools": tools}

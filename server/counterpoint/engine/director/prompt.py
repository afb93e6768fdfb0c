"""What the director is told: its instructions with the spec format (keys listed from the
protocol's models, so they never drift from what ``counterpoint check`` accepts), the first
request, and the repair request carrying ``counterpoint check``'s findings."""

from __future__ import annotations

from counterpoint_protocol.spec import AgentSettings, CheckSettings, SpecDiagnostic, SpecFrontMatter

from counterpoint.engine.spec import format_cli

OUTPUT_TOOL = "submit_plan"

INSTRUCTIONS = """\
You are the director of Counterpoint. A developer asked for a feature in one sentence. You plan it \
as a spec (a `*.agents.md` file) that Counterpoint runs: coding agents working in parallel on this \
repository, each starting the moment what it needs is ready, integration checks running while \
they work, and an integrator fixing what the checks find. Nothing runs until the developer has \
read your spec and runs it.

First look at the repository: its overview is in the request; read_file, list_files, search and \
project_overview are read-only tools confined to the workspace. Learn where code of this kind \
lives, how it is tested and linted, and which role files exist. Then call {tool} with:
- spec: the whole text of the spec (format below);
- estimates: for every agent, the minutes of focused work you expect it to take;
- signal_minutes: for a signal an agent emits before its own work ends, the minutes after that \
agent starts when it fires (leave out signals fired at the emitter's end);
- summary: one or two sentences on the plan and why it is split so.
Counterpoint checks the spec with `counterpoint check`. If it finds problems you get them with \
their lines: call {tool} again with the whole corrected spec.

How to plan:
- Size the plan to the work. A small change: two agents (one builds it, one tests it), or one \
builder and the integrator. A feature with independent parts: one agent per part (backend, \
frontend, tests, docs, ...), with `max_parallel` set to how many can usefully work at once.
- Give each agent a concrete task as bullet points: the files it creates or changes (real paths \
of this repository), the functions, endpoints, pages and tests. Two agents never write one file.
- Make the dependency graph real: an agent needs only what it truly waits for, and no cycle. \
Prefer a signal that fires early (`schema_ready` once the schema file exists) over waiting for \
a whole agent. Every need names an agent or a signal that an agent emits (`emits:`) or a glob \
in `signals:` fires.
- File signals: under `signals:`, globs (relative to the spec's folder: the repository's root) \
that match where this repository puts such files; the agent that writes them also lists the \
signal in `emits:`.
- Checks: run this repository's own test and lint commands (from the overview) with the format \
given there; `after:` the signals meaning there is something to check, `watch:` globs of the \
source files they cover.
- End with an integrator: an agent with `integrate: true` and `rounds: 2`.
- Every agent runs with `runner: llm` and `model: {model}`: write both once at the top of the \
front matter (they are the defaults of every agent). Give an agent `role: <name>` when a role \
file in .claude/agents/ fits it.
- `context:` lists the shared context files every agent should read (only files that exist).

{reference}"""

EXAMPLE = """\
---
feature: Course enrollment
context: [AGENTS.md]
runner: llm
model: openai:gpt-4.1
max_parallel: 3
signals:
  schema_ready: "app/enrollment/schema.py"
checks:
  - name: tests
    run: python -m pytest -q --junitxml=.counterpoint/junit.xml
    after: [mutations_ready, tests_ready]
    watch: ["app/**/*.py", "tests/**/*.py"]
    format: junit:.counterpoint/junit.xml
---
# Course enrollment

Students browse courses and enroll; seats are limited.

## backend
emits: schema_ready, mutations_ready
- `app/enrollment/schema.py`: Course and Enrollment
- `app/enrollment/mutations.py`: enroll, unenroll; emit mutations_ready when they exist

## frontend
needs: schema_ready
- `app/web/pages.py`: the course list with seats left, the enrollment form

## quality
needs: schema_ready
emits: tests_ready
- `tests/test_enrollment.py`: duplicate enrollment, full course, unenroll

## integrator
integrate: true
rounds: 2
- Fix what the checks found, then let them run again
"""


def _fields(model: type, skip: tuple[str, ...] = ()) -> str:
    lines = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        if name not in skip:
            lines.append(f"  - {name}: {info.description or ''}".rstrip())
    return "\n".join(lines)


def reference() -> str:
    """The spec format, with every key the validator accepts (and nothing else)."""
    return (
        "The spec format. YAML front matter between `---` lines holds run-wide settings; any agent "
        "setting there is the default of every agent. Each `## name` heading is one agent: the "
        "`key: value` lines right under it are its settings (one per line, lists comma-separated: "
        "`needs: a, b`), the rest is its task. Names: an ASCII letter or _, then letters, digits, "
        "_, . or - (no spaces). Durations: 90, 30s, 10m, 1h.\n"
        "Front matter keys (no others):\n"
        f"{_fields(SpecFrontMatter)}\n"
        "Agent settings (no others; `needs`/`emits` take agent and signal names):\n"
        f"{_fields(AgentSettings, skip=('transcript', 'speed', 'command', 'preset'))}\n"
        "A check under `checks:` has these keys:\n"
        f"{_fields(CheckSettings)}\n"
        "Check formats: gcc (path:line:col: error: message lines: mypy, ruff "
        "--output-format=concise, eslint -f unix, tsc --pretty false, cargo clippy "
        "--message-format=short), junit:<report file> (pytest --junitxml=<file>), pytest (plain "
        "pytest output), sarif[:file], none (only the exit code counts).\n\n"
        f"An example (shape only; plan for this repository):\n\n{EXAMPLE}"
    )


def instructions(model: str) -> str:
    return INSTRUCTIONS.format(tool=OUTPUT_TOOL, model=model, reference=reference())


def first_request(request: str, spec_name: str, overview: str) -> str:
    return (
        f"Feature request: {request.strip()}\n\n"
        f"The spec will be written to `{spec_name}` at the repository's root.\n\n"
        f"<repository-overview>\n{overview}</repository-overview>\n\n"
        f"Look at what you need, then call {OUTPUT_TOOL}."
    )


def repair_request(
    diagnostics: list[SpecDiagnostic], text: str, spec_name: str, round_no: int, max_rounds: int
) -> str:
    """The findings of ``counterpoint check`` on the last draft, each with its line quoted."""
    lines = text.splitlines()
    shown = []
    for diag in diagnostics:
        shown.append(format_cli(diag, spec_name))
        line = diag.range.line
        if 0 <= line < len(lines):
            shown.append(f"    {line + 1} | {lines[line]}")
    left = max_rounds - round_no
    return (
        f"`counterpoint check {spec_name}` found these problems in your draft "
        f"({len(diagnostics)}):\n\n" + "\n".join(shown) + "\n\n"
        f"Fix every error (and the warnings that point at real mistakes), keep the rest of the plan, "
        f"and call {OUTPUT_TOOL} again with the whole corrected spec and its estimates "
        f"({left} {'attempt' if left == 1 else 'attempts'} left)."
    )


def advice_request(notes: list[SpecDiagnostic], text: str, spec_name: str) -> str:
    """The director's review of a draft that passes check (once): what the survey knows better."""
    lines = text.splitlines()
    shown = []
    for note in notes:
        shown.append(format_cli(note, spec_name))
        if 0 <= note.range.line < len(lines):
            shown.append(f"    {note.range.line + 1} | {lines[note.range.line]}")
    return (
        f"`counterpoint check {spec_name}` passes. Reviewing it against the repository's overview:\n\n"
        + "\n".join(shown)
        + f"\n\nFix what is right and call {OUTPUT_TOOL} again with the whole spec and its estimates "
        "(the same spec if you disagree)."
    )

"""The director's own review of a draft that passes ``counterpoint check``: what the validator
cannot know but the survey of the repository does. Notes (severity info, code ``director-...``),
shown to the model once, in the words of ``counterpoint check`` (``note:``); never blocking.

- ``director-no-integrator``: no agent with ``integrate: true`` fixes what the checks find;
- ``director-no-checks``: the repository has test or lint commands, but no check runs them;
- ``director-check-format``: a check runs a tool whose output its ``format:`` cannot read
  (pytest read as gcc, ruff without ``--output-format=concise``, eslint without ``-f unix``, tsc
  without ``--pretty false``, mypy as anything but gcc).
"""

from __future__ import annotations

import re

from counterpoint_protocol.spec import CheckSpec, Severity, SourceRange, Spec, SpecDiagnostic

from counterpoint.engine.director.survey import Survey

_TOOL = re.compile(r"(?<![\w-])(pytest|ruff|mypy|eslint|tsc)(?![\w-])")


def _note(where: SourceRange, code: str, message: str) -> SpecDiagnostic:
    return SpecDiagnostic(range=where, severity=Severity.INFO, message=message, code=f"director-{code}")


def _format_problem(check: CheckSpec) -> str | None:
    run, form = check.settings.run, check.settings.format
    kind = form.split(":", 1)[0]
    found = _TOOL.search(run)
    tool = found.group(1) if found else None
    if tool == "pytest" and kind not in ("junit", "pytest"):
        return (
            f"the check '{check.settings.name}' runs pytest but reads its output as {form}: use "
            "--junitxml=.counterpoint/junit.xml with format: junit:.counterpoint/junit.xml (or format: pytest)"
        )
    if tool == "pytest" and kind == "junit" and "--junitxml" not in run:
        return f"the check '{check.settings.name}' reads a JUnit report but its pytest writes none: add --junitxml=<the file>"
    if tool == "ruff" and " format" not in run and (kind != "gcc" or "concise" not in run):
        return f"the check '{check.settings.name}' runs ruff: use ruff check --output-format=concise with format: gcc"
    if tool == "eslint" and (kind != "gcc" or "unix" not in run):
        return f"the check '{check.settings.name}' runs eslint: use eslint -f unix with format: gcc"
    if tool == "tsc" and (kind != "gcc" or "--pretty false" not in run):
        return f"the check '{check.settings.name}' runs tsc: use tsc --noEmit --pretty false with format: gcc"
    if tool == "mypy" and kind != "gcc":
        return f"the check '{check.settings.name}' runs mypy: its output is read with format: gcc"
    return None


def review(spec: Spec, found: Survey) -> list[SpecDiagnostic]:
    """Notes on a draft (empty: nothing to say)."""
    notes: list[SpecDiagnostic] = []
    top = spec.title_range or spec.front_matter_range or SourceRange.on_line(0)
    if spec.agents and not any(a.settings.integrate for a in spec.agents):
        notes.append(
            _note(
                spec.agents[-1].heading_range,
                "no-integrator",
                "no integrator: end with an agent with integrate: true and rounds: 2 to fix what the checks find",
            )
        )
    if not spec.checks and found.commands:
        commands = "; ".join(f"{c.run} (format: {c.format})" for c in found.commands[:4])
        notes.append(
            _note(top, "no-checks", f"no checks, though this repository has its commands: {commands}")
        )
    for check in spec.checks:
        problem = _format_problem(check)
        if problem is not None:
            where = check.value_ranges.get("format") or check.value_ranges.get("run") or check.range
            notes.append(_note(where, "check-format", problem))
    return notes

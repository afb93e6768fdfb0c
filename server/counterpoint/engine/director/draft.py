"""A draft of the director: checked as ``counterpoint check`` checks it, named, annotated, written.

`check` runs the real validator (`load_spec`, files looked up on disk, as at the path the spec is
written to) and keeps the findings ``counterpoint check`` prints (errors and warnings). `spec_path`
names the file from the request, never over an existing one. `annotate` puts the plan's note (the
request, the estimates, the predicted critical path and speed-up) under the spec's title, where the
parser reads nothing. `write` writes the file whole, atomically. All blocking: call in a thread.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from counterpoint_protocol.events import PlanPrediction
from counterpoint_protocol.methods import SPEC_SUFFIX
from counterpoint_protocol.spec import Severity, Spec, SpecDiagnostic

from counterpoint.engine.director.estimate import describe
from counterpoint.engine.spec import load_spec
from counterpoint.engine.workspace import STATE_DIR, UnsafePath, confine

FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "add",
        "build",
        "create",
        "implement",
        "make",
        "write",
        "new",
        "feature",
        "features",
        "please",
        "for",
        "with",
        "to",
        "of",
        "and",
        "our",
        "my",
        "this",
        "that",
        "some",
    ]
)
MAX_SLUG_WORDS = 5
TITLE = re.compile(r"^ {0,3}# ")


class DraftProblem(Exception):
    """Where the spec would go cannot take it (a name, a place, a file already there)."""


def check(text: str, path: Path) -> Spec:
    """The draft parsed and validated at ``path`` (its findings in ``spec.diagnostics``)."""
    return load_spec(text, path, check_files=True)


def shown(spec: Spec) -> list[SpecDiagnostic]:
    """The findings ``counterpoint check`` prints: errors and warnings."""
    return [d for d in spec.diagnostics if d.severity in (Severity.ERROR, Severity.WARNING)]


def counts(spec: Spec) -> tuple[int, int]:
    errors = sum(d.severity == Severity.ERROR for d in spec.diagnostics)
    warnings = sum(d.severity == Severity.WARNING for d in spec.diagnostics)
    return errors, warnings


def slug(request: str) -> str:
    """``Build a course enrollment feature`` -> ``course-enrollment``."""
    words = re.findall(r"[a-z0-9]+", request.lower())
    kept = [w for w in words if w not in FILLER][:MAX_SLUG_WORDS] or words[:MAX_SLUG_WORDS]
    return "-".join(kept)[:60].strip("-") or "feature"


def spec_path(root: Path, request: str, out: Path | None, *, overwrite: bool = False) -> Path:
    """Where the spec goes: ``out`` (relative to ``root`` unless absolute), else the request's
    slug at ``root`` with ``-2``, ``-3``... added rather than replace a file."""
    if out is not None:
        target = out if out.is_absolute() else root / out
        if not target.name.endswith(SPEC_SUFFIX) or target.name == SPEC_SUFFIX:
            raise DraftProblem(
                f"{out}: a spec's name ends in {SPEC_SUFFIX} (e.g. course-enrollment{SPEC_SUFFIX})"
            )
        target = Path(os.path.abspath(target))
        try:
            real = confine(target, root, "the spec")
        except UnsafePath as exc:
            raise DraftProblem(str(exc)) from exc
        inside = real.relative_to(Path(os.path.realpath(root))).parts
        if STATE_DIR in inside or ".git" in inside:
            raise DraftProblem(f"{out}: not inside {STATE_DIR} or .git")
        if target.exists() and not overwrite:
            raise DraftProblem(f"{out} exists: choose another name, or overwrite it (--force)")
        if target.is_dir():
            raise DraftProblem(f"{out} is a folder")
        return target
    base = slug(request)
    for number in range(1, 1000):
        name = f"{base}{SPEC_SUFFIX}" if number == 1 else f"{base}-{number}{SPEC_SUFFIX}"
        candidate = root / name
        if not candidate.exists():
            return candidate
    raise DraftProblem(f"too many {base}-N{SPEC_SUFFIX} files at {root}: pass an explicit name")


def note(request: str, model: str, prediction: PlanPrediction | None, rounds: int) -> list[str]:
    """The plan's note: Markdown quote lines the parser reads as text before the first agent."""
    one_line = " ".join(request.split())
    lines = [f'> Planned by `counterpoint plan` with {model} from: "{one_line}"']
    if prediction is not None:
        estimates = ", ".join(f"{name} {minutes:g}" for name, minutes in prediction.estimates.items())
        lines.append(f"> Estimates (minutes of work): {estimates}")
        if prediction.defaulted:
            lines.append(f"> (no estimate given for {', '.join(prediction.defaulted)}: 30 min assumed)")
        lines.append(f"> Predicted: {describe(prediction)}.")
    lines.append(f"> Checked by `counterpoint check` ({rounds} {'draft' if rounds == 1 else 'drafts'}).")
    return lines


def annotate(text: str, lines: list[str]) -> str:
    """``text`` with ``lines`` (and a blank line) under its title, else at the start of its body."""
    source = text.splitlines()
    at = next((i + 1 for i, line in enumerate(source) if TITLE.match(line)), None)
    if at is None:
        at = _body_start(source)
    before = [""] if at and source[at - 1].strip() else []
    after = [] if at < len(source) and not source[at].strip() else [""]
    block = [*before, *lines, *after]
    merged = source[:at] + block + source[at:]
    return "\n".join(merged).rstrip("\n") + "\n"


def _body_start(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() in ("---", "..."):
                return index + 1
    return 0


def write(path: Path, text: str) -> None:
    """Write the spec whole (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

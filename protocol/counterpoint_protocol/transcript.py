"""Replay transcripts: one JSON object a line, one model per ``action``.

`TranscriptStep` is a discriminated union on ``action``; `parse_transcript`
reads a whole JSONL text and returns the steps with their line numbers and one
`TranscriptProblem` per line that cannot be used (with the line number), so that
``counterpoint check`` and the replay runner report the same findings. Blank
lines and lines starting with ``//`` are ignored; only ``\\n`` ends a line (JSON
strings may hold U+2028 and friends raw). Values are strict: ``"seconds":
"abc"``, a list as a ``path`` or a list as ``metadata`` are findings, never
coerced. The JSON Schema of a step is exported as ``transcript-step.schema.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

_SIGNAL = Field(min_length=1, description="A signal name.")


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Think(_Step):
    action: Literal["think"]
    seconds: float = Field(0.0, ge=0, allow_inf_nan=False, description="How long, recorded.")
    text: str | None = None


class Say(_Step):
    action: Literal["say"]
    text: str = ""


class WriteFile(_Step):
    action: Literal["write_file"]
    path: str = Field(min_length=1, description="Relative to the spec's folder.")
    content: str = ""


class EditFile(_Step):
    action: Literal["edit_file"]
    path: str = Field(min_length=1)
    search: str
    replace: str


class ReadFile(_Step):
    action: Literal["read_file"]
    path: str = Field(min_length=1)


class RunCommand(_Step):
    action: Literal["run"]
    command: str = Field(min_length=1, description="A shell command; needs consent.")


class Emit(_Step):
    action: Literal["emit"]
    signal: Annotated[str, _SIGNAL]
    metadata: dict[str, Any] | None = None


class Wait(_Step):
    action: Literal["wait"]
    signal: Annotated[str, _SIGNAL]
    timeout: float | None = Field(None, ge=0, allow_inf_nan=False, description="Seconds (0: none).")


class Fail(_Step):
    action: Literal["fail"]
    message: str | None = None


TranscriptStep = Annotated[
    Think | Say | WriteFile | EditFile | ReadFile | RunCommand | Emit | Wait | Fail,
    Field(discriminator="action"),
]
STEP_ADAPTER: TypeAdapter[TranscriptStep] = TypeAdapter(TranscriptStep)
ACTIONS = ("think", "say", "write_file", "edit_file", "read_file", "run", "emit", "wait", "fail")


@dataclass(frozen=True)
class TranscriptProblem:
    line: int
    """1-based line of the transcript file."""
    message: str
    """One line, for the user."""


def parse_transcript(text: str) -> tuple[list[tuple[int, TranscriptStep]], list[TranscriptProblem]]:
    """The usable steps with their 1-based line numbers, and one problem per unusable line."""
    steps: list[tuple[int, TranscriptStep]] = []
    problems: list[TranscriptProblem] = []
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            problems.append(TranscriptProblem(number, f"not JSON ({getattr(exc, 'msg', exc)})"))
            continue
        problem = _shape_problem(raw)
        if problem is not None:
            problems.append(TranscriptProblem(number, problem))
            continue
        try:
            steps.append((number, STEP_ADAPTER.validate_python(raw)))
        except ValidationError as exc:
            problems.append(TranscriptProblem(number, _explain(raw["action"], exc)))
    return steps, problems


def _shape_problem(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return f"expected a JSON object with an 'action', got {_json_type(raw)}"
    action = raw.get("action")
    if action is None:
        return "no 'action'; actions: " + ", ".join(ACTIONS)
    if action not in ACTIONS:
        shown = json.dumps(action)[:40]
        return f"unknown action {shown}; actions: " + ", ".join(ACTIONS)
    return None


def _explain(action: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"][1:]]  # the first item is the union's tag
        field = ".".join(loc) or "step"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field '{field}'")
        elif err["type"] == "missing":
            parts.append(f"missing '{field}'")
        else:
            msg = err["msg"]
            parts.append(f"'{field}': {msg[:1].lower()}{msg[1:]} (got {_json_type(err.get('input'))})")
    return f"{action}: " + "; ".join(parts)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:60]
    if isinstance(value, str):
        return f"the string {json.dumps(value)[:40]}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

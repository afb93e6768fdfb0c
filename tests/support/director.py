"""The director's tests: a small Python project to plan in, the drafts a scripted model submits,
a responder that speaks for the model on either wire format, and a converter that makes a planned
spec runnable offline with the replay runner.

`DirectorScript` is the model: it looks around with the read-only tools, submits `broken_spec`
(three planted mistakes: a dependency cycle, an unknown key, a need nothing emits), and submits
`fixed_spec` only when the repair request it gets names all three findings with their codes;
otherwise it submits the broken draft again. So a plan that passes proves the findings reached it.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from counterpoint.engine.spec import load_spec

from tests.llm.fake_llm_server import FakeLLMServer, Reply, call

PLANTED = ("[dependency-cycle]", "[unknown-key]", "[unknown-signal]")
ESTIMATES = {"backend": 90, "frontend": 60, "quality": 45, "docs": 30, "integrator": 20}
SIGNAL_MINUTES = {"schema_ready": 20, "mutations_ready": 60}


def make_project(root: Path) -> Path:
    """A git repository with a Python app, its tests, pytest and ruff configured, an AGENTS.md and
    a role file."""
    (root / "app" / "enrollment").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / ".claude" / "agents").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "enrollment" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text("def main() -> None:\n    pass\n")
    (root / "tests" / "test_smoke.py").write_text("def test_smoke() -> None:\n    assert True\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "school"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n\n[tool.ruff]\nline-length = 100\n'
    )
    (root / "AGENTS.md").write_text("# School\nPython 3.11, dataclasses, pytest. Keep modules small.\n")
    (root / ".claude" / "agents" / "backend-dev.md").write_text(
        "---\nname: backend-dev\ndescription: Builds the domain model and its mutations\n"
        "tools: Read, Write, Edit, Grep\n---\nYou build backends.\n"
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _front(model: str, max_parallel_key: str = "max_parallel") -> str:
    return f"""---
feature: Course enrollment
context: [AGENTS.md]
runner: llm
model: {model}
{max_parallel_key}: 3
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
"""


def broken_spec(model: str) -> str:
    """A cycle (backend needs tests_ready, quality needs mutations_ready from backend), an unknown
    key (max_paralel), a need nothing emits (api_ready)."""
    return (
        _front(model, "max_paralel")
        + """
## backend
role: backend-dev
needs: tests_ready
emits: schema_ready, mutations_ready
- `app/enrollment/schema.py`: Course and Enrollment dataclasses
- `app/enrollment/mutations.py`: enroll, unenroll

## frontend
needs: schema_ready, api_ready
- `app/web/pages.py`: the course list and the enrollment form

## quality
needs: mutations_ready
emits: tests_ready
- `tests/test_enrollment.py`: duplicates, a full course, unenroll

## docs
needs: mutations_ready
- `docs/enrollment.md`: the mutations

## integrator
integrate: true
rounds: 2
- Fix what the checks found
"""
    )


def fixed_spec(model: str) -> str:
    return (
        _front(model)
        + """
## backend
role: backend-dev
emits: schema_ready, mutations_ready
- `app/enrollment/schema.py`: Course and Enrollment dataclasses
- `app/enrollment/mutations.py`: enroll, unenroll

## frontend
needs: schema_ready
- `app/web/pages.py`: the course list and the enrollment form

## quality
needs: schema_ready
emits: tests_ready
- `tests/test_enrollment.py`: duplicates, a full course, unenroll

## docs
needs: mutations_ready
- `docs/enrollment.md`: the mutations

## integrator
integrate: true
rounds: 2
- Fix what the checks found
"""
    )


def unreviewed_spec(model: str) -> str:
    """Passes check, but the director's review has notes: no integrator, pytest read as gcc."""
    text = fixed_spec(model)
    text = text.replace("    format: junit:.counterpoint/junit.xml\n", "    format: gcc\n", 1)
    return text[: text.index("## integrator")].rstrip() + "\n"


REVIEWED = ("[director-no-integrator]", "[director-check-format]")


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            if "content" in part:
                out.extend(_texts(part["content"]))
    return out


def user_texts(body: dict[str, Any]) -> list[str]:
    """Every text the model was sent in user turns (both wire formats), in order."""
    return [t for m in body.get("messages", []) if m.get("role") == "user" for t in _texts(m.get("content"))]


def tool_calls_made(body: dict[str, Any]) -> list[str]:
    """The names of the tools the model called so far (both wire formats)."""
    names: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") != "assistant":
            continue
        for tc in message.get("tool_calls") or []:
            names.append(tc["function"]["name"])
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "tool_use":
                names.append(part["name"])
    return names


class DirectorScript:
    """The model, for `FakeLLMServer` (``script(agent, body)``) and `AnthropicLoopback`
    (``script.messages``): looks, submits the broken draft, repairs it only from the findings."""

    def __init__(self, model: str, *, repairs: bool = True, look: bool = True, first: str = "broken") -> None:
        self.model = model
        self.first = unreviewed_spec(model) if first == "unreviewed" else broken_spec(model)
        self.expected = REVIEWED if first == "unreviewed" else PLANTED
        self.repairs = repairs
        self.look = look
        self.repair_requests: list[str] = []
        self.lock = threading.Lock()
        self.hold: threading.Event | None = None
        """When set: every answer waits until it is set (a model that takes its time)."""
        self.held = threading.Event()
        """Set once a request is being held."""

    def submit(self, spec: str, text: str = "") -> Reply:
        return Reply(
            text,
            [
                call(
                    "submit_plan",
                    spec=spec,
                    estimates=ESTIMATES,
                    signal_minutes=SIGNAL_MINUTES,
                    summary="Backend first; frontend and tests from the schema on; docs after the mutations.",
                )
            ],
        )

    def __call__(self, agent: str | None, body: dict[str, Any]) -> Reply:
        if self.hold is not None:
            self.held.set()
            self.hold.wait(120)
        called = tool_calls_made(body)
        texts = user_texts(body)
        if self.look and "read_file" not in called:
            return Reply("Looking at the project first.", [call("read_file", path="pyproject.toml")])
        if self.look and "list_files" not in called:
            return Reply("", [call("list_files", path="app")])
        if "submit_plan" not in called:
            return self.submit(self.first, "Here is the plan.")
        last = texts[-1] if texts else ""
        with self.lock:
            self.repair_requests.append(last)
        if self.repairs and all(code in last for code in self.expected):
            return self.submit(fixed_spec(self.model), "Fixed: no cycle, max_parallel, no api_ready.")
        return self.submit(self.first)

    def messages(self, body: dict[str, Any]) -> Reply:
        return self(None, body)


def replayable(spec_path: Path) -> None:
    """Make a planned spec run offline: every agent replays a transcript that writes a file for
    each file signal it emits (at a path its glob matches) and emits its other signals; the front
    matter's ``runner: llm`` and ``model:`` become ``runner: replay``. Needs, emits, signals,
    checks and the integrator stay as planned."""
    spec = load_spec(spec_path.read_text(), spec_path)
    folder = spec_path.parent / "transcripts"
    folder.mkdir(exist_ok=True)
    for agent in spec.agents:
        steps: list[dict[str, Any]] = [{"action": "say", "text": f"{agent.name} at work"}]
        for signal in agent.settings.emits:
            for glob in spec.signals.get(signal, []):
                path = glob.replace("**/", "").replace("*", "generated")
                steps.append({"action": "write_file", "path": path, "content": f"# {signal}\n"})
            if signal not in spec.signals:
                steps.append({"action": "emit", "signal": signal})
        (folder / f"{agent.name}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    lines = spec_path.read_text().splitlines()
    out: list[str] = []
    for line in lines:
        if line.startswith("runner: llm"):
            out.append("runner: replay")
        elif line.startswith("model: "):
            continue
        else:
            out.append(line)
        if line.startswith("## "):
            out.append(f"transcript: transcripts/{line[3:].strip()}.jsonl")
    spec_path.write_text("\n".join(out) + "\n")


def serve(flavor: str, script: DirectorScript) -> tuple[FakeLLMServer, dict[str, Any]]:
    """The scripted model on a loopback server speaking ``flavor``'s wire format, started, and the
    ``llm`` user settings that point at it."""
    server = FakeLLMServer(flavor, script).start()  # type: ignore[arg-type]
    if flavor == "openai":
        llm: dict[str, Any] = {"openai_base_url": server.url, "openai_api_key": "sk-test"}
    else:
        llm = {"anthropic_base_url": server.url.removesuffix("/v1"), "anthropic_api_key": "sk-ant-test"}
    return server, {**llm, "max_retries": 2}

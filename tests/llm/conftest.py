"""Fixtures for the llm runner's tests: fake servers on loopback, an event log, spec builders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.log import EventLog
from counterpoint.engine.run import Run, RunOptions
from counterpoint.engine.run.budget import RunBudget
from counterpoint_protocol.events import Event, output_lines
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange, Spec

from tests.llm.fake_llm_server import FakeLLMServer

PROVIDER_ENV = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "COUNTERPOINT_PRICES",
)


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Endpoints and keys of the developer's shell must not leak into the tests."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def openai_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("openai") as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("anthropic") as server:
        yield server


@pytest.fixture
async def event_log(tmp_path: Path) -> AsyncIterator[EventLog]:
    log = await EventLog.open(tmp_path / ".counterpoint" / "events.db")
    yield log
    await log.close()


def llm_settings(server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    """User-level settings pointing at a fake server (a key, fast retries)."""
    if server.flavor == "openai":
        base = {"openai_base_url": server.url, "openai_api_key": "sk-test"}
    else:
        base = {
            "anthropic_base_url": server.url.removesuffix("/v1"),
            "anthropic_api_key": "sk-ant-test",
        }
    return {**base, "max_retries": 3, **extra}


def make_spec(folder: Path, agents: dict[str, dict[str, Any]], **front: Any) -> Spec:
    """A spec of llm agents: name -> settings (plus ``task``)."""
    specs = []
    for line, (name, settings) in enumerate(agents.items()):
        settings = dict(settings)
        task = settings.pop("task", f"task of {name}")
        where = SourceRange.on_line(line * 3, 0, len(name) + 3)
        specs.append(
            AgentSpec(
                name=name,
                settings=AgentSettings(runner=settings.pop("runner", "llm"), **settings),
                task=task,
                heading_range=where,
                name_range=where,
                section_end_line=line * 3 + 2,
            )
        )
    return Spec(path=str(folder / "test.agents.md"), agents=specs, **front)


async def run_spec(
    event_log: EventLog,
    spec: Spec,
    root: Path,
    *,
    extra: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[Run, str, list[Event]]:
    extra = dict(extra or {})
    extra.setdefault("budget", RunBudget(spec.budget_usd))
    run = Run(spec, event_log, root, RunOptions(watch=False, extra=extra, **options))
    status = await run.execute()
    return run, status, await event_log.query(run.run_id)


def errors(events: list[Event]) -> dict[str, str]:
    return {e.actor or "": str(e.metadata.get("error", "")) for e in events if e.type == "agent_finished"}


def outputs(events: list[Event], actor: str) -> list[str]:
    return [line for e in events if e.type == "agent_output" and e.actor == actor for line in output_lines(e)]

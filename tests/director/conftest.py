"""Fixtures of the director's tests: a project to plan in, loopback model servers, no provider
variables or model from the developer's shell."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog

from tests.llm.conftest import PROVIDER_ENV
from tests.llm.fake_llm_server import FakeLLMServer
from tests.support.director import make_project


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROVIDER_ENV, "COUNTERPOINT_DIRECTOR_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "school")


@pytest.fixture(params=["openai", "anthropic"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(flavor: str) -> Iterator[FakeLLMServer]:
    with FakeLLMServer(flavor) as fake:  # type: ignore[arg-type]
        yield fake


@pytest.fixture
async def event_log(project: Path) -> AsyncIterator[EventLog]:
    log = await EventLog.open(project / ".counterpoint" / "events.db")
    yield log
    await log.close()

"""`counterpoint.plan` end to end through the real server (a subprocess over stdio), with VS Code's
and Neovim's capabilities: the director behind a loopback model (OpenAI's wire format for one
client, Anthropic's — `AnthropicLoopback` — for the other) repairs its draft from the check
findings; the spec is written, shown with window/showDocument, reported with work-done progress and
`counterpoint/event` notifications like a run, and, once the editor opens it, has its diagnostics
and code lenses. Nothing runs."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.llm.conftest import PROVIDER_ENV
from tests.llm.fake_llm_server import FakeLLMServer
from tests.lsp.helpers import events_of, execute, get, open_doc, progress_kinds, wait_for
from tests.support.anthropic_loopback import AnthropicLoopback
from tests.support.director import PLANTED, DirectorScript, make_project

REQUEST = "Build a course enrollment feature"


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROVIDER_ENV, "COUNTERPOINT_DIRECTOR_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python project (not the example): the director plans in it."""
    return make_project(tmp_path_factory.mktemp("ws") / "school")


class Model:
    """The loopback model of one test: its settings, its model name, the script behind it."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor
        self.name = f"{flavor}:director-test"
        self.script = DirectorScript(self.name)
        self.openai: FakeLLMServer | None = None
        self.anthropic: AnthropicLoopback | None = None
        if flavor == "openai":
            self.openai = FakeLLMServer("openai", self.script).start()
        else:
            self.anthropic = AnthropicLoopback(self.script.messages).start()

    def settings(self) -> dict[str, Any]:
        if self.openai is not None:
            llm = {"openai_base_url": self.openai.url, "openai_api_key": "sk-test"}
        else:
            assert self.anthropic is not None
            llm = {"anthropic_base_url": self.anthropic.base_url, "anthropic_api_key": "sk-ant-test"}
        prices = {self.name: {"input": 3.0, "output": 15.0}}
        return {"llm": {**llm, "max_retries": 2}, "director": {"model": self.name}, "prices": prices}

    def stop(self) -> None:
        for server in (self.openai, self.anthropic):
            if server is not None:
                server.stop()


@pytest.fixture
def model(request: pytest.FixtureRequest, _user_config: Path) -> Iterator[Model]:
    """OpenAI's wire format with VS Code's capabilities, Anthropic's with Neovim's; the user
    settings (in the server's XDG_CONFIG_HOME) point the director at it."""
    params = getattr(request.node, "callspec", None)
    client_name = params.params.get("client", "neovim") if params else "neovim"
    found = Model("openai" if client_name == "visual_studio_code" else "anthropic")
    (_user_config / "counterpoint").mkdir(exist_ok=True)
    (_user_config / "counterpoint" / "settings.json").write_text(json.dumps(found.settings()))
    yield found
    found.stop()


def supports_progress(client: LanguageClient) -> bool:
    caps = client.capabilities
    return bool(caps and caps.window and caps.window.work_done_progress)


async def test_plan_writes_shows_and_checks_the_spec(
    client: LanguageClient, workspace: Path, model: Model
) -> None:
    result = await execute(client, Commands.PLAN, {"request": REQUEST, "folder": workspace.as_uri()})
    spec = workspace / "course-enrollment.agents.md"
    assert get(result, "ok") is True and get(result, "rounds") == 2, result
    assert get(result, "path") == str(spec) and get(result, "uri") == spec.as_uri()
    assert "passes counterpoint check (2 drafts)" in get(result, "message")
    prediction = get(result, "prediction")
    assert get(prediction, "critical_path")[0] == "backend" and get(prediction, "speedup") == 2.13
    assert get(result, "cost_usd") > 0 and get(result, "input_tokens") > 0
    plan_id = get(result, "planId")

    # The findings reached the model, which repaired them.
    (repair,) = model.script.repair_requests
    assert all(code in repair for code in PLANTED), repair

    # The spec was opened in the editor.
    assert [d.uri for d in client.shown_documents] == [spec.as_uri()]  # type: ignore[attr-defined]

    # Progress like a run's: begin, what the director does, end.
    token = f"counterpoint/plan/{plan_id}"
    if supports_progress(client):
        await wait_for(lambda: progress_kinds(client, token)[-1:] == ["end"])
        kinds = progress_kinds(client, token)
        assert kinds[0] == "begin" and "report" in kinds, kinds
        begin = client.progress_reports[token][0]
        assert isinstance(begin, types.WorkDoneProgressBegin) and begin.cancellable
        end = client.progress_reports[token][-1]
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert "passes counterpoint check" in (end.message or "") and "predicted speed-up 2.13x" in (
            end.message or ""
        )
    else:
        await wait_for(lambda: any("predicted speed-up 2.13x" in m.message for m in client.log_messages))

    # The plan's events reached the editor as counterpoint/event, under the plan's id.
    await wait_for(lambda: events_of(client, plan_id, "plan_finished"))
    kinds_seen = [get(e, "type") for e in events_of(client, plan_id)]
    assert kinds_seen[0] == "plan_started" and kinds_seen.count("plan_draft") == 2
    (finished,) = events_of(client, plan_id, "plan_finished")
    assert get(finished, "action") == "ready" and get(get(finished, "metadata"), "rounds") == 2

    # Once the editor opens it: no diagnostics, and the run lens with the critical path.
    text = spec.read_text()
    open_doc(client, spec.as_uri(), text)
    await wait_for(lambda: spec.as_uri() in client.diagnostics)
    errors = [d for d in client.diagnostics[spec.as_uri()] if d.severity == types.DiagnosticSeverity.Error]
    assert errors == []
    doc = types.TextDocumentIdentifier(uri=spec.as_uri())
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
    titles = [lens.command.title for lens in lenses or [] if lens.command]
    assert any(t.startswith("▶ Run all 5 agents") for t in titles), titles
    # Planning ran nothing.
    status = await execute(client, Commands.STATUS, {})
    assert get(status, "runs") == []


async def test_a_draft_still_failing_is_opened_with_its_diagnostics(
    client: LanguageClient, workspace: Path, model: Model
) -> None:
    model.script.repairs = False
    result = await execute(client, Commands.PLAN, {"request": REQUEST, "out": "plans/enroll.agents.md"})
    spec = workspace / "plans" / "enroll.agents.md"
    assert get(result, "ok") is False and get(result, "errors") == 4 and get(result, "rounds") == 3
    assert "still has 4 errors after 3 drafts" in get(result, "message")
    assert [d.uri for d in client.shown_documents] == [spec.as_uri()]  # type: ignore[attr-defined]
    open_doc(client, spec.as_uri(), spec.read_text())
    await wait_for(lambda: spec.as_uri() in client.diagnostics)
    codes = {d.code for d in client.diagnostics[spec.as_uri()]}
    assert {"dependency-cycle", "unknown-key", "unknown-signal"} <= codes, codes


async def test_plan_refusals(client: LanguageClient, workspace: Path, _user_config: Path) -> None:
    with pytest.raises(JsonRpcException, match="request"):
        await execute(client, Commands.PLAN, {"request": ""})
    with pytest.raises(JsonRpcException, match="no model configured for the director"):
        await execute(client, Commands.PLAN, {"request": REQUEST})
    with pytest.raises(JsonRpcException, match="not a file: URI"):
        await execute(client, Commands.PLAN, {"request": REQUEST, "folder": "untitled:x"})
    with pytest.raises(JsonRpcException, match=r"ends in \.agents\.md"):
        await execute(client, Commands.PLAN, {"request": REQUEST, "model": "openai:m", "out": "x.md"})
    assert not list(workspace.rglob("*.agents.md"))


async def test_cancelling_the_plan_from_its_progress(
    client: LanguageClient, workspace: Path, model: Model
) -> None:
    """The progress is cancellable (as a run's): cancelling it stops the plan, which says so in the
    log; no spec is written."""
    model.script.hold = threading.Event()
    try:
        pending = asyncio.ensure_future(execute(client, Commands.PLAN, {"request": REQUEST}))
        await wait_for(model.script.held.is_set)
        await wait_for(
            lambda: [t for t in client.progress_reports if str(t).startswith("counterpoint/plan/")]
        )
        (token,) = [t for t in client.progress_reports if str(t).startswith("counterpoint/plan/")]
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        with pytest.raises(JsonRpcException, match="cancelled"):
            await asyncio.wait_for(pending, 60)
        plan_id = str(token).removeprefix("counterpoint/plan/")
        await wait_for(lambda: events_of(client, plan_id, "plan_finished"))
        (finished,) = events_of(client, plan_id, "plan_finished")
        assert get(finished, "action") == "cancelled"
        await wait_for(lambda: progress_kinds(client, str(token))[-1:] == ["end"])
    finally:
        model.script.hold.set()
    assert not list(workspace.glob("*.agents.md"))

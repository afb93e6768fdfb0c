"""`:Counterpoint plan <request>` in a real headless Neovim 0.11 against the real `counterpoint lsp`,
in a Python project with no spec yet; the director's model is a loopback server speaking OpenAI's
wire format (tests/support/director.py: a first draft with planted mistakes, repaired from the
check findings), named by the user settings in the test's XDG_CONFIG_HOME."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm.fake_llm_server import FakeLLMServer
from tests.nvim.test_nvim_plugin import run_script
from tests.support.director import DirectorScript, make_project

MODEL = "openai:director-test"


@pytest.fixture
def model_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("openai", DirectorScript(MODEL)) as server:
        yield server


def test_plan_from_the_command_line(nvim: Path, tmp_path: Path, model_server: FakeLLMServer) -> None:
    workspace = make_project(tmp_path / "workspace")
    settings = {
        "llm": {"openai_base_url": model_server.url, "openai_api_key": "sk-test", "max_retries": 2},
        "director": {"model": MODEL},
    }
    config = tmp_path / "xdg-config" / "counterpoint"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps(settings))
    out = run_script(nvim, "test_plan.lua", tmp_path, workspace, timeout=150)
    assert "ok: the planned spec opened (window/showDocument)" in out
    assert (workspace / "course-enrollment.agents.md").is_file()
    assert not list((workspace / ".counterpoint").glob("runs/*")), "planning ran nothing"

"""The llm agent's tools cannot reach ``.git``, ``.counterpoint`` or the user's config, nor grant consent.

A home folder kept in git (dotfiles) holds the user's config folder, so it is
inside the workspace: the model tries to plant a git hook, to grant itself
consent, to read the user's API key and the repository's credentials, then to
run a command. Each attempt is refused with a message the model sees.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from counterpoint.engine.log import EventLog

from tests.llm.conftest import errors, llm_settings, make_spec, run_spec
from tests.llm.fake_llm_server import FakeLLMServer, Reply, Script, call

KEY = "sk-USER-KEY-0123456789"
TOKEN = "ghp_REPO-TOKEN-0123456789"


async def test_llm_tools_refuse_the_machinery_and_consent_stays_out_of_reach(
    tmp_path: Path, event_log: EventLog, openai_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path  # the event log fixture lives in tmp_path/.counterpoint
    subprocess.run(["git", "init", "-q", str(home)], check=True)
    subprocess.run(
        ["git", "-C", str(home), "remote", "add", "origin", f"https://me:{TOKEN}@example.com/r"], check=True
    )
    config = home / ".config" / "counterpoint"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"llm": {"openai_api_key": KEY}}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    attempts = [
        call("write_file", path=".git/hooks/pre-commit", content="#!/bin/sh\ntouch pwned\n"),
        call("edit_file", path=".git/config", search="[core]", replace="[core]\n\tfsmonitor = touch pwned"),
        call("read_file", path=".git/config"),
        call(
            "write_file",
            path=".config/counterpoint/trust.json",
            content=json.dumps({"workspaces": [str(home)]}),
        ),
        call("read_file", path=".config/counterpoint/settings.json"),
        call("write_file", path=".counterpoint/events.db", content="gone"),
        call("search", text="sk-", path="."),
        call("list_files", path=".config"),
    ]
    script = [Reply("", [a]) for a in attempts] + [Reply("", [call("run_command", command="touch ran.txt")])]
    openai_server.responder = Script({"a": [*script, Reply("done")]})
    spec = make_spec(home, {"a": {"model": "openai:gpt-test"}})
    _run, status, events = await run_spec(
        event_log, spec, home, extra={"llm_settings": llm_settings(openai_server)}
    )

    assert status == "failed"
    assert "not allowed to run 'touch ran.txt'" in errors(events)["a"]
    assert not (home / "ran.txt").exists()
    assert not (config / "trust.json").exists()
    assert not (home / ".git" / "hooks" / "pre-commit").exists()
    assert "fsmonitor" not in (home / ".git" / "config").read_text()
    sent = json.dumps([r.body for r in openai_server.requests])
    assert KEY not in sent and TOKEN not in sent  # the model never saw a secret
    assert sent.count("agents may not read or write it") >= 6
    refused = [
        e for e in events if e.type == "tool_call" and "agents may not" in str(e.metadata.get("error"))
    ]
    assert len(refused) == 6 and {e.actor for e in refused} == {"a"}
    listed = next(e for e in events if e.type == "tool_call" and e.action == "list_files")
    assert listed.metadata["result"] == {"count": 0}
